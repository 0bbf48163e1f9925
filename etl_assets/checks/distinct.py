"""Distinct counts in one pass over chunks: exact up to a cap, then a HyperLogLog estimate.

Each chunk's distinct values (Arrow `unique`) are hashed to 64 bits (pandas' hash); the exact count
keeps the hashes of up to `EXACT_CAP` distinct values (8 bytes each). Past the cap only the
HyperLogLog registers are kept (2**14 bytes per column, standard error about 0.8%). Cost: about
0.1 us per value, plus 0.4 us per distinct text value of each chunk.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
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
        self.exact: np.ndarray | None = np.empty(0, dtype="uint64")

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        uniques = pc.unique(values.drop_null())
        if not len(uniques):
            return
        hashes = pd.util.hash_array(uniques.to_numpy(zero_copy_only=False), categorize=False).astype("uint64")
        self._update_registers(hashes)
        if self.exact is not None:
            self.exact = np.union1d(self.exact, hashes)
            if len(self.exact) > EXACT_CAP:
                self.exact = None

    def _update_registers(self, hashes: np.ndarray) -> None:
        index = (hashes >> np.uint64(64 - PRECISION)).astype("int64")
        rest = (hashes << np.uint64(PRECISION)) | np.uint64(1 << (PRECISION - 1))
        _, exponent = np.frexp(rest.astype("float64"))
        rank = (65 - exponent).astype("uint8")  # leading zeros of `rest` + 1
        np.maximum.at(self.registers, index, rank)

    @property
    def is_exact(self) -> bool:
        return self.exact is not None

    def count(self) -> int:
        if self.exact is not None:
            return len(self.exact)
        estimate = _ALPHA * _M * _M / float(np.sum(np.power(2.0, -self.registers.astype("float64"))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if estimate <= 2.5 * _M and zeros:
            estimate = _M * np.log(_M / zeros)
        return int(round(estimate))
