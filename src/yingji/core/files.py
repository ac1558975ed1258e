"""What a file is, and how it is kept: the one place that decides what an uploaded file is.

Photos are decoded with Pillow (never recognised by their first bytes alone): a file is a photo
only if it opens as JPEG, PNG or WebP within ``PHOTO_MAX_PIXELS`` and passes ``verify()``; a JPEG
(which ``verify()`` does not check) is also decoded to its end. Its content type is the one of
the format found, never the one a client claims. Recordings are not decoded; their container
structure is checked as far as it can be without a decoder. Stored files are served only by
``core.file_serving.file_response``, with the recorded type, ``nosniff``, a
``Content-Disposition`` and a sandboxing ``Content-Security-Policy``, so that a file that
carries markup anyway can never run as a page of the platform's origin. (This module imports no
web framework: services use it.)
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import struct
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from PIL import Image, UnidentifiedImageError

from yingji.core.errors import NotFound, ValidationFailed

# 50 megapixels: a full-resolution photo of a 50 MP phone camera still passes; anything larger
# (a small file that decodes to gigabytes, a "decompression bomb") is refused before decoding.
PHOTO_MAX_PIXELS = 50_000_000
# Pillow itself refuses (DecompressionBombError) beyond twice its limit and only warns beyond it;
# the limit is set here explicitly, the warning is an error, and ``identify_photo`` checks too.
Image.MAX_IMAGE_PIXELS = PHOTO_MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

PHOTO_FORMATS: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
PHOTO_TYPES = frozenset(PHOTO_FORMATS.values())
AUDIO_TYPES = frozenset({"audio/mpeg", "audio/wav", "audio/amr", "audio/aac", "audio/mp4"})
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/webp": (".webp",),
    "audio/mpeg": (".mp3",),
    "audio/wav": (".wav",),
    "audio/amr": (".amr",),
    "audio/aac": (".aac",),
    "audio/mp4": (".m4a", ".mp4"),
}
# served files run nothing and load nothing, even when opened as a page of their own
FILE_CSP = "default-src 'none'; sandbox"


@dataclass(frozen=True, slots=True)
class Identified:
    """What a file was found to be: ``photo`` or ``audio``, and its content type."""

    kind: str
    content_type: str


def _not_allowed(filename: str, claimed: str) -> ValidationFailed:
    return ValidationFailed(
        "attachment_type_not_allowed",
        f"{filename} is not an accepted photo (JPEG, PNG, WebP) or recording",
        {"filename": filename, "content_type": claimed},
    )


def identify_photo(data: bytes, *, filename: str = "photo") -> str:
    """The content type of ``data`` if it decodes as a JPEG, PNG or WebP photo of at most
    ``PHOTO_MAX_PIXELS`` pixels; else ``ValidationFailed`` (``attachment_type_not_allowed``,
    ``attachment_too_many_pixels``). CPU-bound: call it through ``asyncio.to_thread``."""
    formats = list(PHOTO_FORMATS)
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            found, (width, height) = image.format, image.size
            if width * height > PHOTO_MAX_PIXELS:
                raise _too_many_pixels(filename, width, height)
            image.verify()  # PNG: every chunk and its checksum, to IEND; WebP: opened by libwebp
        if found == "JPEG":  # verify() checks nothing in a JPEG: decode every scan, at 1/8 size
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()  # truncated or corrupt image data fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_many_pixels(filename, 0, 0) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as error:
        raise _not_allowed(filename, "") from error
    content_type = PHOTO_FORMATS.get(found or "")
    if content_type is None:  # pragma: no cover - Image.open was given only these formats
        raise _not_allowed(filename, "")
    return content_type


def _too_many_pixels(filename: str, width: int, height: int) -> ValidationFailed:
    return ValidationFailed(
        "attachment_too_many_pixels",
        f"{filename} has more than {PHOTO_MAX_PIXELS // 1_000_000} million pixels",
        {"filename": filename, "width": width, "height": height, "max_pixels": PHOTO_MAX_PIXELS},
    )


def identify(data: bytes, *, claimed: str, filename: str) -> Identified:
    """What an uploaded file is: a recording of the claimed audio type if its container says so,
    else a photo of the format it decodes as (whatever type was claimed for it)."""
    if claimed in AUDIO_TYPES:
        if not _is_audio(claimed, data):
            raise _not_allowed(filename, claimed)
        return Identified("audio", claimed)
    try:
        return Identified("photo", identify_photo(data, filename=filename))
    except ValidationFailed as error:
        if error.code == "attachment_type_not_allowed":
            raise _not_allowed(filename, claimed) from error
        raise


async def identify_async(data: bytes, *, claimed: str, filename: str) -> Identified:
    return await asyncio.to_thread(identify, data, claimed=claimed, filename=filename)


async def identify_photo_async(data: bytes, *, filename: str) -> str:
    return await asyncio.to_thread(identify_photo, data, filename=filename)


# --- recordings: container checks (audio is not decoded) -----------------------------------------

_MPEG_BITRATE_BAD = (0x0, 0xF)  # "free" and "bad" bitrate indexes


def _is_audio(content_type: str, data: bytes) -> bool:
    checks = {
        "audio/wav": _is_wav,
        "audio/mpeg": _is_mp3,
        "audio/amr": _is_amr,
        "audio/aac": _is_adts,
        "audio/mp4": _is_mp4,
    }
    return checks[content_type](data)


def _is_wav(data: bytes) -> bool:
    """RIFF/WAVE with a sane ``fmt `` chunk followed, somewhere, by a ``data`` chunk."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    offset, has_format = 12, False
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if not re.fullmatch(rb"[\x20-\x7e]{4}", chunk):
            return False
        if chunk == b"fmt ":
            if size < 16 or offset + 8 + 16 > len(data):
                return False
            _, channels, rate = struct.unpack_from("<HHI", data, offset + 8)
            if not (1 <= channels <= 32 and 1_000 <= rate <= 768_000):
                return False
            has_format = True
        elif chunk == b"data":
            return has_format
        offset += 8 + size + (size & 1)
    return False


def _mpeg_frame_ok(header: bytes) -> bool:
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return False
    version, layer = (header[1] >> 3) & 0x3, (header[1] >> 1) & 0x3
    bitrate, rate = header[2] >> 4, (header[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate not in _MPEG_BITRATE_BAD and rate != 3


def _is_mp3(data: bytes) -> bool:
    """An ID3v2 tag (well-formed header) or an MPEG audio frame header at the start."""
    if data[:3] == b"ID3":
        if len(data) < 10 or data[3] not in (2, 3, 4) or any(b & 0x80 for b in data[6:10]):
            return False
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        end = 10 + size + (10 if data[5] & 0x10 else 0)
        # the tag must fit; if audio follows it, it starts with a frame header
        return end <= len(data) and (end == len(data) or _mpeg_frame_ok(data[end : end + 4]))
    return data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2") and _mpeg_frame_ok(data[:4])


def _is_amr(data: bytes) -> bool:
    return data.startswith((b"#!AMR\n", b"#!AMR-WB\n", b"#!AMR_MC1.0\n", b"#!AMR-WB_MC1.0\n"))


def _is_adts(data: bytes) -> bool:
    """An ADTS frame header: sync word, a valid sampling index and a frame length that fits."""
    if len(data) < 7 or data[:2] not in (b"\xff\xf1", b"\xff\xf9"):
        return False
    sampling = (data[2] >> 2) & 0xF
    length = ((data[3] & 0x3) << 11) | (data[4] << 3) | (data[5] >> 5)
    return sampling < 13 and 7 <= length <= len(data)


def _is_mp4(data: bytes) -> bool:
    """An ISO base media file: a leading ``ftyp`` box of sane size with printable brands."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    size = struct.unpack_from(">I", data, 0)[0]
    if not (16 <= size <= min(len(data), 1024)) or (size - 16) % 4:
        return False
    return re.fullmatch(rb"[\x20-\x7e]{4}", data[8:12]) is not None


# --- serving -------------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()+-]")


def _with_extension(filename: str, content_type: str) -> str:
    name = filename.replace("/", "_").replace("\\", "_").strip() or "file"
    known = EXTENSIONS.get(content_type)
    if known and not name.lower().endswith(known):
        name = f"{name}{known[0]}"
    return name[:200]


def content_disposition(filename: str, content_type: str) -> str:
    """``inline`` for photos, ``attachment`` for anything else; a safe ASCII ``filename`` and the
    full name as RFC 5987 ``filename*=UTF-8''…``. The extension always matches the type."""
    name = "".join(
        c for c in unicodedata.normalize("NFC", filename) if unicodedata.category(c)[0] != "C"
    )
    name = _with_extension(name, content_type)
    ascii_name = _UNSAFE_NAME.sub("_", name).strip(" .") or "file"
    disposition = "inline" if content_type in PHOTO_TYPES else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


# --- the store -----------------------------------------------------------------------------------


class FileStore(Protocol):
    async def put(self, data: bytes) -> str: ...

    async def get(self, sha256: str) -> bytes:
        """The file's bytes; ``NotFound`` (``attachment_not_found``) if it is not stored."""
        ...


class LocalFileStore:
    """Files under ``root/ab/cdef…`` by SHA-256; writing the same content twice is a no-op."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise NotFound("attachment_not_found", "no such file")
        return self.root / sha256[:2] / sha256

    async def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_of(digest)
        if not path.exists():
            await asyncio.to_thread(self._write, path, data)
        return digest

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)

    async def get(self, sha256: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path_of(sha256).read_bytes)
        except (FileNotFoundError, NotADirectoryError) as error:
            raise NotFound(
                "attachment_not_found", "the file is not in the store", {"sha256": sha256}
            ) from error
