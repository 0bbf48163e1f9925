"""The C extension (binary COPY encoder); everything else is in pyproject.toml."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "etl_assets.targets.sql._pgcopy",
            ["etl_assets/targets/sql/_pgcopy.c"],
            optional=True,  # without a C compiler, pgpq encodes (slower, same bytes)
        )
    ]
)
