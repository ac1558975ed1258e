"""A stored file as an HTTP answer: the one way attachments leave the platform (routes only)."""

from __future__ import annotations

from fastapi import Response

from yingji.core.files import AUDIO_TYPES, FILE_CSP, PHOTO_TYPES, content_disposition


def file_response(
    data: bytes, *, content_type: str, filename: str, cache: str = "private, max-age=86400"
) -> Response:
    """A stored file as an HTTP answer: the recorded type (anything not on the allow-list is sent
    as ``application/octet-stream``), never sniffed, never run."""
    if content_type not in PHOTO_TYPES and content_type not in AUDIO_TYPES:
        content_type = "application/octet-stream"
    return Response(
        data,
        media_type=content_type,
        headers={
            "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": content_disposition(filename, content_type),
            "Content-Security-Policy": FILE_CSP,
        },
    )
