"""Sensors of the pipelines: watched `file`/`sftp` sources and alerts."""
