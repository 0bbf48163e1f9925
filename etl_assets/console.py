"""The `etl` command's process.

An `etl run` process builds the definitions once and exits when the run is done, so the objects of
its imports and definitions live until then: the cyclic garbage collector is kept off while they
are made, and frozen (never walked again) once they are there (about 1.5 s less per run, and
about 1 s less at exit, where the collector would otherwise walk every object one last time).
"""
from __future__ import annotations

import gc
import sys


def main() -> None:
    run = sys.argv[1:2] == ["run"]
    if run:
        gc.disable()  # run_pipeline turns it on again once the definitions are built and the instance is open
    from .cli import main as cli_main

    code = cli_main(exits_after=run)
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
