"""Watch sensors: one run per new or changed file under a `file` or `sftp` source's `path`.

Each tick lists the files (cheap: name, size, mtime), hashes only those whose size or mtime differ
from the cursor (at most `max_files_per_tick`; the rest wait for the next tick), and requests one run
per file whose content hash is new for its name. The run key is `<name>@<hash>`: Dagster never starts
a second run with a key a sensor has used, so a file that was processed never runs again, even when
the daemon crashed after launching the run and before saving the cursor, or the cursor was lost.
A listing error fails the tick and leaves the cursor as it was.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, ContextManager

import dagster as dg

from etl_assets.assets.common import asset_key
from etl_assets.config import LoadedPipeline
from etl_assets.config.models import PipelineConfig

from .cursor import Seen, WatchCursor
from .listing import FileEntry, FileLister, ListingError
from .runs import files_tags

STATUS = {"running": dg.DefaultSensorStatus.RUNNING, "stopped": dg.DefaultSensorStatus.STOPPED}


@dataclass
class Tick:
    """What one evaluation decided: files to run (with their hash), the next cursor, files left over."""

    runs: list[tuple[FileEntry, str]] = field(default_factory=list)
    cursor: WatchCursor = field(default_factory=WatchCursor)
    deferred: int = 0


def plan_tick(previous: WatchCursor, lister: FileLister, *, limit: int, settled_before: float) -> Tick:
    """Decide a tick. Files modified after `settled_before` may still be being written: not yet.

    Oldest files first. A file that disappeared is dropped from the cursor (if it comes back with
    content already processed under that name, its run key stops a second run).
    """
    tick = Tick()
    budget = limit
    for entry in sorted(lister.list(), key=lambda e: (e.mtime, e.name)):
        seen = previous.files.get(entry.name)
        if seen is not None and seen.same_stat(entry):
            tick.cursor.files[entry.name] = seen
            continue
        if entry.mtime > settled_before or budget == 0:
            if seen is not None:
                tick.cursor.files[entry.name] = seen
            tick.deferred += 1
            continue
        budget -= 1
        digest = lister.fingerprint(entry)
        tick.cursor.files[entry.name] = Seen(entry.size, entry.mtime, digest)
        if seen is None or seen.hash != digest:
            tick.runs.append((entry, digest))
    return tick


def run_key(name: str, digest: str) -> str:
    return f"{name}@{digest}"


def watch_selection(cfg: PipelineConfig, source: str) -> list[dg.AssetKey]:
    """What a run for this source materializes: the source, everything downstream of it, and what those
    read — except other watched sources, whose last loaded data is used (they load their own files)."""
    items = [*cfg.sources, *cfg.transforms, *cfg.targets]
    reads = {item.name: cfg.upstream_of(item) for item in items}
    down = {source}
    grew = True
    while grew:  # config order is not topological: iterate to a fixed point
        grew = False
        for item in items:
            if item.name not in down and down & set(reads[item.name]):
                down.add(item.name)
                grew = True
    needed = set(down)
    stack = list(down)
    while stack:
        for up in reads[stack.pop()]:
            if up not in needed:
                needed.add(up)
                stack.append(up)
    watched = {s.name for s in cfg.sources if getattr(s, "watch", None)} - {source}
    return [asset_key(cfg.pipeline, item.name) for item in items if item.name in needed - watched]


def build_watch_sensor(
    loaded: LoadedPipeline, index: int, job: dg.UnresolvedAssetJobDefinition, open_lister: Callable[[], ContextManager[FileLister]]
) -> dg.SensorDefinition:
    """`<pipeline>_<source>_sensor` for the watched source `sources[index]`. `open_lister` is called
    on each tick (never at definition time)."""
    cfg = loaded.config
    src = cfg.sources[index]
    watch = src.watch
    selection = watch_selection(cfg, src.name)

    def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        previous = WatchCursor.parse(context.cursor)
        try:
            with open_lister() as lister:
                tick = plan_tick(previous, lister, limit=watch.max_files_per_tick, settled_before=time.time() - watch.settle_seconds)
        except Exception as exc:  # noqa: BLE001 - any listing failure fails the tick, redacted, cursor kept
            raise ListingError(loaded.redact(f"{cfg.pipeline}/{src.name}: {exc}")) from None
        requests = [
            dg.RunRequest(run_key=run_key(entry.name, digest), asset_selection=selection, tags=files_tags(src.name, [entry.name]))
            for entry, digest in tick.runs
        ]
        later = f"; {tick.deferred} file(s) left for the next tick" if tick.deferred else ""
        if requests:
            context.log.info(f"{len(requests)} new or changed file(s){later}")
        return dg.SensorResult(
            run_requests=requests,
            cursor=tick.cursor.dumps(),
            skip_reason=None if requests else f"no new or changed files{later}",
        )

    return dg.SensorDefinition(
        name=f"{cfg.pipeline}_{src.name}_sensor",
        evaluation_fn=evaluate,
        minimum_interval_seconds=watch.interval_seconds,
        description=f"Starts a run of {cfg.pipeline} for each new or changed file of source {src.name}.",
        job=job,
        default_status=STATUS[watch.default_status],
    )
