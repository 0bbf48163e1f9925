"""SFTP sources: download the files of a remote path or glob, then read them like local files.

Every matching file is downloaded to a temp directory (size checked, retried on a fresh
connection after a transient error) before any is parsed, so a dropped connection never yields a
partial table; the files are then read by `files.read_files` with the source's format and options.
"""
from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterator

import dagster as dg
import pyarrow as pa

from resources.sftp import RemoteFile, SftpResource, SftpSession
from resources.templates import Secrets
from sensors.listing import split_glob
from sensors.runs import triggered_files

from ..config.errors import display_path
from ..config.models import SftpSource
from ..partitions import partition_window, render_placeholders
from .errors import SourceError
from .files import read_files

if TYPE_CHECKING:
    from ..assets.common import AssetContext


def download_all(session: SftpSession, pattern: str, directory: Path, names: list[str] | None = None) -> tuple[list[RemoteFile], list[Path]]:
    """(remote files, local copies) of every file matching pattern (only `names`, relative to the
    pattern's fixed root, for a run started by the source's watch sensor); none matching is an error."""
    remote = session.glob(pattern)
    if names is not None:
        remote = triggered(remote, pattern, names)
    if not remote:
        raise SourceError(f"no remote file matches {pattern!r} on {session.settings.display}")
    local = []
    for number, file in enumerate(remote, start=1):
        dest = directory / f"{number:05d}_{PurePosixPath(file.path).name}"
        session.download(file, dest)
        local.append(dest)
    return remote, local


def triggered(remote: list[RemoteFile], pattern: str, names: list[str]) -> list[RemoteFile]:
    """The files a sensor run was started for, in the order of `names`."""
    root = PurePosixPath(split_glob(pattern)[0])
    by_name = {PurePosixPath(f.path).relative_to(root).as_posix(): f for f in remote if PurePosixPath(f.path).is_relative_to(root)}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise SourceError(f"{', '.join(missing)} started this run but no longer match {pattern!r}")
    return [by_name[n] for n in names]


def read_sftp_source(ctx: AssetContext, context: dg.AssetExecutionContext, meta: dict[str, Any]) -> Iterator[pa.Table]:
    """The `sftp` source reader (see `assets.sources.READERS`)."""
    src: SftpSource = ctx.config
    resource: SftpResource = getattr(context.resources, ctx.connection_resource_key(src.connection))
    pattern = render_placeholders(src.path, partition_window(ctx.loaded.config, context))
    secrets = Secrets(ctx.loaded.secrets)
    with tempfile.TemporaryDirectory(prefix="etl-sftp-") as tmp:
        with resource.session(context.log.warning, secrets) as session:
            where = secrets.redact(session.settings.display)
            context.log.info(secrets.redact(f"listing {pattern} on {where}"))
            remote, local = download_all(session, pattern, Path(tmp), triggered_files(context.run.tags, src.name))
        size = sum(f.size for f in remote)
        context.log.info(secrets.redact(f"downloaded {len(remote)} file(s), {size} bytes from {where}"))
        meta.update(
            {
                "server": dg.MetadataValue.text(where),
                "path": dg.MetadataValue.text(secrets.redact(pattern)),
                "files": dg.MetadataValue.json([secrets.redact(f.path) for f in remote]),
                "file_count": dg.MetadataValue.int(len(remote)),
                "bytes": dg.MetadataValue.int(size),
            }
        )
        try:
            yield from read_files(local, src.format, src.options)
        except SourceError as exc:
            raise SourceError(remote_names(str(exc), local, remote)) from None


def remote_names(text: str, local: list[Path], remote: list[RemoteFile]) -> str:
    """An error about the local copies, naming the remote files instead."""
    for path, file in zip(local, remote):
        text = text.replace(display_path(path), file.path).replace(str(path), file.path)
    return text
