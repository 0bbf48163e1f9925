"""A sensor evaluated in a loop, launching its runs as `dagster-daemon` would."""
from __future__ import annotations

import dagster as dg


class SensorLoop:
    """Ticks a sensor and launches its run requests as the daemon would (a used run key starts nothing)."""

    def __init__(self, defs: dg.Definitions, sensor_name: str, job_name: str, instance: dg.DagsterInstance):
        self.defs, self.instance, self.name = defs, instance, sensor_name
        self.sensor = defs.resolve_sensor_def(sensor_name)
        self.job = defs.resolve_job_def(job_name)
        self.cursor: str | None = None

    def tick(self) -> int:
        """One tick; returns how many runs it started (each must succeed)."""
        data = self.sensor.evaluate_tick(dg.build_sensor_context(instance=self.instance, cursor=self.cursor, definitions=self.defs))
        self.cursor = data.cursor
        started = 0
        for request in data.run_requests or []:
            if self.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": request.run_key})):
                continue
            tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": self.name}
            assert self.job.execute_in_process(instance=self.instance, asset_selection=request.asset_selection, tags=tags).success
            started += 1
        return started
