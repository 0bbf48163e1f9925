"""Prometheus metrics computed from the Dagster instance's storage.

Finished runs are read once each, in order, through a cursor over the run-status events, so the
counters hold the instance's whole history and move as soon as a run ends; runs in progress are
counted on every scrape.
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Iterator

import dagster as dg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .runs import asset_results

BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, float("inf"))
_E = dg.DagsterEventType
FINISH_EVENTS = {_E.RUN_SUCCESS: "success", _E.RUN_FAILURE: "failure", _E.RUN_CANCELED: "canceled"}
IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
LOAD_OPERATIONS = ("inserted", "updated", "unchanged", "deleted")
PAGE = 200


def pipeline_of(run: dg.DagsterRun) -> str:
    """The job name; for Dagster's implicit asset job, the pipeline of the selected assets."""
    if run.job_name.startswith("__") and run.asset_selection:
        return sorted(run.asset_selection, key=lambda k: k.to_user_string())[0].path[0]
    return run.job_name


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.total += value
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1


class DagsterMetrics(Collector):
    """The etl_* metric families; `collect()` first reads the runs that finished since the last scrape."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance
        self._lock = threading.Lock()
        self._cursors: dict[_E, str | None] = dict.fromkeys(FINISH_EVENTS)
        self.runs: Counter[tuple[str, str]] = Counter()
        self.durations: dict[tuple[str, str], _Histogram] = {}
        self.assets: Counter[tuple[str, str, str]] = Counter()
        self.rows: Counter[tuple[str, str]] = Counter()
        self.loaded: Counter[tuple[str, str, str]] = Counter()
        self.quarantined: Counter[tuple[str, str]] = Counter()
        self.checks: Counter[tuple[str, str, str, str]] = Counter()

    def sync(self) -> None:
        """Take in every run that finished since the last call."""
        with self._lock:
            for event_type, status in FINISH_EVENTS.items():
                while True:
                    result = self.instance.fetch_run_status_changes(event_type, limit=PAGE, cursor=self._cursors[event_type], ascending=True)
                    for record in result.records:
                        self._add_run(record.event_log_entry.run_id, status)
                    self._cursors[event_type] = result.cursor
                    if not result.has_more:
                        break

    def _add_run(self, run_id: str, status: str) -> None:
        record = self.instance.get_run_record_by_id(run_id)
        if record is None:
            return
        pipeline = pipeline_of(record.dagster_run)
        self.runs[(pipeline, status)] += 1
        if record.start_time and record.end_time:
            self.durations.setdefault((pipeline, status), _Histogram()).observe(record.end_time - record.start_time)
        for result in asset_results(self.instance, run_id, finished=True):
            labels = (result.asset.split("/", 1)[0], result.asset)
            self.assets[(*labels, result.status)] += 1
            _add(self.rows, labels, result.rows)
            _add(self.quarantined, labels, result.rows_quarantined)
            for operation in LOAD_OPERATIONS:
                _add(self.loaded, (*labels, operation), getattr(result, f"rows_{operation}"))
            for check in result.checks:
                outcome = "passed" if check.passed else ("warn" if check.severity == "WARN" else "failed")
                self.checks[(*labels, check.name, outcome)] += 1

    def collect(self) -> Iterator[Metric]:
        self.sync()
        runs = CounterMetricFamily("etl_runs", "Finished runs by pipeline and status", labels=["pipeline", "status"])
        for labels, value in sorted(self.runs.items()):
            runs.add_metric(labels, value)
        yield runs
        yield self._in_progress()
        durations = HistogramMetricFamily("etl_run_duration_seconds", "Run durations (start to end) of finished runs", labels=["pipeline", "status"])
        for labels, hist in sorted(self.durations.items()):
            cumulative = [(str(b) if b != float("inf") else "+Inf", c) for b, c in zip(BUCKETS, hist.counts, strict=True)]
            durations.add_metric(list(labels), cumulative, hist.total)
        yield durations
        yield _counter("etl_asset_results", "Asset results of finished runs (materialized, failed, skipped)", ["pipeline", "asset", "status"], self.assets)
        yield _counter("etl_asset_rows", "Rows output by asset materializations", ["pipeline", "asset"], self.rows)
        yield _counter("etl_rows_loaded", "Rows loaded into targets by operation", ["pipeline", "asset", "operation"], self.loaded)
        yield _counter("etl_rows_quarantined", "Rows sent to quarantine", ["pipeline", "asset"], self.quarantined)
        yield _counter("etl_asset_checks", "Asset check results (passed, failed, warn)", ["pipeline", "asset", "check", "result"], self.checks)

    def _in_progress(self) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily("etl_runs_in_progress", "Runs not finished yet, by pipeline and status", labels=["pipeline", "status"])
        counts: Counter[tuple[str, str]] = Counter()
        for record in self.instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS)):
            counts[(pipeline_of(record.dagster_run), record.dagster_run.status.value.lower())] += 1
        for labels, value in sorted(counts.items()):
            gauge.add_metric(labels, value)
        return gauge


def _add(counter: Counter, labels: tuple[str, ...], value: int | None) -> None:
    """Count a metadata value an asset reported (assets that report none get no series)."""
    if value is not None:
        counter[labels] += value


def _counter(name: str, documentation: str, labels: list[str], values: Counter) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family
