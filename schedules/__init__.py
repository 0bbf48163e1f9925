"""Schedules of the pipelines: `<pipeline>_schedule` from a config's `schedule` mapping."""
from .factory import build_schedule

__all__ = ["build_schedule"]
