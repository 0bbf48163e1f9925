"""Distinct counts in one pass over chunks: exact up to a cap, then a HyperLogLog estimate.

Up to `EXACT_CAP` distinct values the counter keeps the values themselves, in Arrow (`unique` of
the values so far and each chunk's, without the GIL and without Python objects). Past the cap those
values and every later chunk's distinct values are hashed to 64 bits (pandas' hash) into
HyperLogLog registers (2**14 bytes per column, standard error about 0.8%); the registers depend only
on the set of values, not on when they were added.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EXACT_CAP = 100_000
PRECISION = 14
_M = 1 << PRECISION
_ALPHA = 0.7213 / (1 + 1.079 / _M)


class DistinctCounter:
    """Counts the distinct non-null values of one column, chunk by chunk."""

    def __init__(self) -> None:
        self.registers = np.zeros(_M, dtype="uint8")
        self.exact: pa.Array | None = None
        """The distinct values so far, while there are at most EXACT_CAP of them."""
        self._estimating = False

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        uniques = pc.unique(values.drop_null())
        if not len(uniques):
            return
        if self._estimating:
            self._update_registers(uniques)
            return
        self.exact = uniques if self.exact is None else pc.unique(pa.chunked_array([self.exact, uniques]))
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
        return not self._estimating

    def count(self) -> int:
        if not self._estimating:
            return 0 if self.exact is None else len(self.exact)
        estimate = _ALPHA * _M * _M / float(np.sum(np.power(2.0, -self.registers.astype("float64"))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if estimate <= 2.5 * _M and zeros:
            estimate = _M * np.log(_M / zeros)
        return int(round(estimate))
