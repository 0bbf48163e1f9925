"""Dagster resources: one class per external system.

Resources are configured with the config file's *templates* (`${VAR}` text), never with the
values: the Dagster UI shows resource config, and values from the environment are secrets.
Templates are interpolated from the environment when the resource is used.
"""
from .http import HttpResource
from .sftp import SftpResource
from .sql import SqlResource

__all__ = ["HttpResource", "SftpResource", "SqlResource"]
