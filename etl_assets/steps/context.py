"""What a step function gets besides its frame and arguments."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..tables import StoredTable
from .errors import StepProblem

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class StepContext:
    transform: str
    inputs: Mapping[str, StoredTable]
    import_paths: Sequence[Path] = ()
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def input_frame(self, name: str, purpose: str) -> pd.DataFrame:
        """Another asset of the pipeline, read whole (once per run of the transform)."""
        if name not in self.inputs:
            known = ", ".join(sorted(self.inputs)) or "(none)"
            raise StepProblem(f"{purpose} asset {name!r} is not available; assets given are: {known}")
        if name not in self._frames:
            self._frames[name] = self.inputs[name].to_pandas()
        return self._frames[name]


StepFunction = Callable[["pd.DataFrame", Any, StepContext], "pd.DataFrame"]
