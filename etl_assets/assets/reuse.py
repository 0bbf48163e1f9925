"""A file source whose files have not changed since its last materialization reuses the table it
stored then, instead of reading the files again (a re-run of the same data skips the parse).

"Unchanged" is strict: each file's path, device, inode, size, modification and change time
(`st_ctime_ns` changes on every write and cannot be set back), together with the source's code
version (its config, options included); and the stored table must still be the file that
materialization wrote (inode, size, modification time). Only a materialization whose checks
passed every row on is reused, so the checks see the same rows again and report the same; its
column profile is carried over.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import dagster as dg

from ..checks.profile import KnownProfile
from ..incremental import latest_record, record_metadata
from ..io_manager import TableIOManager
from ..sources.files import file_stamps
from ..tables import StoredTable

FINGERPRINT_KEY = "source_fingerprint"
STORED_KEY = "stored_file"


def fingerprint(code_version: str, paths: list[Path]) -> str:
    """The identity of a read: the code version and every file's place and change stamps."""
    digest = hashlib.sha256(code_version.encode())
    for s in file_stamps(paths):
        digest.update(f"{s.path}\0{s.dev}\0{s.ino}\0{s.size}\0{s.mtime_ns}\0{s.ctime_ns}\n".encode())
    return digest.hexdigest()


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def stored_table(context: dg.AssetExecutionContext, key: dg.AssetKey, read: str) -> StoredTable | None:
    """The table the last materialization stored, if it came from the same read and is intact."""
    partition = context.partition_key if context.has_partition_key else None
    record = latest_record(context.instance, key, partition)
    path = TableIOManager().path_for(key, partition)
    if record_metadata(record, FINGERPRINT_KEY) != read or not path.exists() or record_metadata(record, STORED_KEY) != _stamp(path):
        return None
    profile = record.asset_materialization.metadata.get("profile")
    return StoredTable(path, observers=(KnownProfile(profile),) if isinstance(profile, dg.TableMetadataValue) else ())


def metadata(read: str, table: StoredTable) -> dict[str, Any]:
    """What the next run compares (recorded on the materialization)."""
    return {FINGERPRINT_KEY: read, STORED_KEY: _stamp(table.path)}
