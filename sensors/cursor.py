"""The cursor of a watch sensor: what each present file looked like when it was last handled.

JSON `{"v": 1, "files": {"<name>": [size, mtime, "<hash>"]}}`, names relative to the watch root.
Only files that still exist are kept, so the cursor is as big as the watched listing, not the
history. It is an optimisation and a record of what was seen; the durable guarantee that a
(name, content) pair never starts a second run is the run key (see sensors/watch.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .listing import FileEntry

VERSION = 1


@dataclass(frozen=True)
class Seen:
    size: int
    mtime: float
    hash: str

    def same_stat(self, entry: FileEntry) -> bool:
        return self.size == entry.size and self.mtime == entry.mtime


@dataclass
class WatchCursor:
    files: dict[str, Seen] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> "WatchCursor":
        """An empty cursor for None or an unreadable/old value (every file is then looked at again;
        run keys still keep already-processed files from running twice)."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("v") != VERSION:
                return cls()
            return cls({name: Seen(int(s), float(m), str(h)) for name, (s, m, h) in data["files"].items()})
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()

    def dumps(self) -> str:
        files = {name: [s.size, s.mtime, s.hash] for name, s in sorted(self.files.items())}
        return json.dumps({"v": VERSION, "files": files}, separators=(",", ":"))
