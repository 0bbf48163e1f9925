"""Listing the files under a watched glob: name, size, mtime, and a content fingerprint on demand.

A lister is any object with `list()` (every matching file, cheap: no content read) and
`fingerprint(entry)` (a hash of the content, read only for new or changed files). The local file
system and SFTP implement it; the sensor logic (sensors/files.py) does not care which.
"""
from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Protocol

GLOB_CHARS = frozenset("*?[")
HASH_CHARS = 16
"""Hex characters kept of a SHA-256 content hash (64 bits: collisions are not a practical concern)."""
READ_BYTES = 1 << 20


class ListingError(Exception):
    """The watched location could not be listed or a file could not be read."""


@dataclass(frozen=True)
class FileEntry:
    """One file under a watch root; `name` is its '/'-separated path relative to that root."""

    name: str
    size: int
    mtime: float


class FileLister(Protocol):
    def list(self) -> Iterator[FileEntry]:
        """Every file matching the watched pattern; raises ListingError."""
        ...

    def fingerprint(self, entry: FileEntry) -> str:
        """A hash of the file's content; raises ListingError."""
        ...


def split_glob(pattern: str) -> tuple[str, str]:
    """`/data/in/2024-*/x_*.csv` -> (`/data/in`, `2024-*/x_*.csv`): the fixed root and the rest.

    A pattern without glob characters is one file: its parent directory and its name.
    """
    parts = PurePosixPath(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if GLOB_CHARS & set(part):
            break
        fixed.append(part)
    if len(fixed) == len(parts):
        fixed = fixed[:-1]
    root = str(PurePosixPath(*fixed)) if fixed else "."
    return root, "/".join(parts[len(fixed):])


def valid_name(name: str) -> bool:
    """A relative name that cannot leave its root (no absolute path, no `..`)."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts


def content_hash(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()[:HASH_CHARS]


class LocalLister:
    """Files on the local file system matching an absolute glob (`**` recurses)."""

    def __init__(self, pattern: Path) -> None:
        root, self.relative = split_glob(pattern.as_posix())
        self.root = Path(root)

    def list(self) -> Iterator[FileEntry]:
        if not self.root.exists():
            return
        if not self.root.is_dir():
            raise ListingError(f"{self.root} is not a directory")
        try:
            for match in glob.iglob(self.relative, root_dir=self.root, recursive=True):
                path = self.root / match
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # removed while listing
                if path.is_file():
                    yield FileEntry(Path(match).as_posix(), stat.st_size, stat.st_mtime_ns / 1e9)
        except OSError as exc:
            raise ListingError(f"cannot list {self.root}: {exc.strerror or exc}") from exc

    def fingerprint(self, entry: FileEntry) -> str:
        try:
            with open(self.root / entry.name, "rb") as f:
                return content_hash(iter(lambda: f.read(READ_BYTES), b""))
        except OSError as exc:
            raise ListingError(f"cannot read {entry.name}: {exc.strerror or exc}") from exc

    def resolve(self, name: str) -> Path:
        """The local path of a listed name."""
        return self.root / name
