"""One file-store interface for attachments; local disk by default, content-addressed."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Protocol

# magic numbers of the accepted kinds: what a file *is*, not what its name or header claims
SIGNATURES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "image/jpeg": ("photo", (b"\xff\xd8\xff",)),
    "image/png": ("photo", (b"\x89PNG\r\n\x1a\n",)),
    "image/webp": ("photo", (b"RIFF",)),
    "audio/mpeg": ("audio", (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
    "audio/wav": ("audio", (b"RIFF",)),
    "audio/amr": ("audio", (b"#!AMR",)),
    "audio/aac": ("audio", (b"\xff\xf1", b"\xff\xf9")),
    "audio/mp4": ("audio", (b"\x00\x00\x00",)),
}


def sniff(content_type: str, data: bytes) -> str | None:
    """The attachment kind (photo/audio) if ``data`` really is ``content_type``, else None."""
    entry = SIGNATURES.get(content_type)
    if entry is None:
        return None
    kind, magics = entry
    if not any(data.startswith(magic) for magic in magics):
        return None
    if content_type == "image/webp" and data[8:12] != b"WEBP":
        return None
    if content_type == "audio/wav" and data[8:12] != b"WAVE":
        return None
    return kind


class FileStore(Protocol):
    async def put(self, data: bytes) -> str: ...

    async def get(self, sha256: str) -> bytes: ...


class LocalFileStore:
    """Files under ``root/ab/cdef…`` by SHA-256; writing the same content twice is a no-op."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
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
        return await asyncio.to_thread(self.path_of(sha256).read_bytes)
