"""Distinct counts in one pass over chunks: exact up to a cap, then a HyperLogLog estimate.

Up to `EXACT_CAP` distinct values the counter keeps the values themselves, in Arrow, without the
GIL and without Python objects: `unique` of each chunk, and a `unique` of the set so far with the
chunks' distinct values once those are as many as the set's, or MERGE_VALUES, or come from
MERGE_CHUNKS chunks. Past the cap those values and every later chunk's distinct values are hashed
to 64 bits (pandas' hash) into HyperLogLog registers (2**14 bytes per column, standard error about
0.8%); the registers depend only on the set of values, not on when they were added.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EXACT_CAP = 100_000
MERGE_VALUES = 65_536
"""Distinct values of chunks gathered before they are merged into the set so far (at least)."""
MERGE_CHUNKS = 32
"""Chunks gathered at most before they are merged (a column of few values adds few per chunk)."""
PRECISION = 14
_M = 1 << PRECISION
_ALPHA = 0.7213 / (1 + 1.079 / _M)


class DistinctCounter:
    """Counts the distinct non-null values of one column, chunk by chunk."""

    def __init__(self) -> None:
        self.registers = np.zeros(_M, dtype="uint8")
        self.exact: pa.Array | None = None
        """The distinct values so far (merged), while there are at most EXACT_CAP of them."""
        self._estimating = False
        self._pending: list[pa.Array] = []
        """Each chunk's distinct values, not yet merged into `exact`."""
        self._pending_values = 0

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        uniques = pc.unique(values).drop_null()  # null is one value to unique: no copy of the chunk
        if not len(uniques):
            return
        if self._estimating:
            self._update_registers(uniques)
            return
        self._pending.append(uniques)
        self._pending_values += len(uniques)
        if len(self._pending) >= MERGE_CHUNKS or self._pending_values >= max(MERGE_VALUES, 0 if self.exact is None else len(self.exact)):
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        parts = ([self.exact] if self.exact is not None else []) + self._pending
        self.exact = parts[0] if len(parts) == 1 else pc.unique(pa.chunked_array(parts))
        self._pending, self._pending_values = [], 0
        if len(self.exact) > EXACT_CAP:
            self._update_registers(self.exact)
            self.exact, self._estimating = None, True

    def _update_registers(self, values: pa.Array) -> None:
        import pandas as pd

        hashes = pd.util.hash_array(values.to_numpy(zero_copy_only=False), categorize=False).astype("uint64")
        index = (hashes >> np.uint64(64 - PRECISION)).astype("int64")
        rest = (hashes << np.uint64(PRECISION)) | np.uint64(1 << (PRECISION - 1))
        _, exponent = np.frexp(rest.astype("float64"))
        rank = (65 - exponent).astype("uint8")  # leading zeros of `rest` + 1
        np.maximum.at(self.registers, index, rank)

    @property
    def is_exact(self) -> bool:
        self._merge()
        return not self._estimating

    def count(self) -> int:
        self._merge()
        if not self._estimating:
            return 0 if self.exact is None else len(self.exact)
        estimate = _ALPHA * _M * _M / float(np.sum(np.power(2.0, -self.registers.astype("float64"))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if estimate <= 2.5 * _M and zeros:
            estimate = _M * np.log(_M / zeros)
        return int(round(estimate))
