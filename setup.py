"""The C extensions (binary COPY encoder, row hash terms); everything else is in pyproject.toml."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "etl_assets.targets.sql._pgcopy",
            ["etl_assets/targets/sql/_pgcopy.c"],
            optional=True,  # without a C compiler, pgpq encodes (slower, same bytes)
        ),
        Extension(
            "etl_assets.targets.sql._rowhash",
            ["etl_assets/targets/sql/_rowhash.c"],
            optional=True,  # without it, numpy and pandas hash (slower, same hashes)
        ),
    ]
)
