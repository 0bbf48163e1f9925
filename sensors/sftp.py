"""Listing a watched `sftp` source through the connection's SftpResource (resources/sftp.py)."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Callable, ContextManager, Iterator

from etl_assets.config import LoadedPipeline
from resources.sftp import RemoteFile, SftpResource, SftpSession

from .listing import READ_BYTES, FileEntry, ListingError, content_hash, split_glob


class SftpLister:
    """Files on an SFTP server matching a remote glob; a fingerprint downloads the file and hashes it."""

    def __init__(self, session: SftpSession, pattern: str, scratch: Path) -> None:
        self.session = session
        self.pattern = pattern
        self.root = PurePosixPath(split_glob(pattern)[0])
        self.scratch = scratch
        self.remote: dict[str, RemoteFile] = {}

    def list(self) -> Iterator[FileEntry]:
        try:
            files = self.session.glob(self.pattern)
        except Exception as exc:  # noqa: BLE001 - connection, host key, auth, listing
            raise ListingError(str(exc)) from exc
        for file in files:
            name = PurePosixPath(file.path).relative_to(self.root).as_posix()
            self.remote[name] = file
            yield FileEntry(name, file.size, float(file.mtime))

    def fingerprint(self, entry: FileEntry) -> str:
        local = self.scratch / "file"
        try:
            self.session.download(self.remote[entry.name], local)
        except Exception as exc:  # noqa: BLE001
            raise ListingError(str(exc)) from exc
        with open(local, "rb") as f:
            return content_hash(iter(lambda: f.read(READ_BYTES), b""))


def sftp_lister_opener(loaded: LoadedPipeline, index: int) -> Callable[[], ContextManager[SftpLister]]:
    src = loaded.config.sources[index]
    resource = SftpResource.from_raw(loaded.raw["connections"][src.connection], str(loaded.base_dir))

    @contextmanager
    def opener() -> Iterator[SftpLister]:
        with resource.session() as session, tempfile.TemporaryDirectory(prefix="etl-watch-") as scratch:
            yield SftpLister(session, src.path, Path(scratch))

    return opener
