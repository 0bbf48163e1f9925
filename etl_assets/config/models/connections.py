"""Named connections: sql, sftp and http."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from .common import Model


class SqlConnection(Model):
    """Any SQLAlchemy URL (postgresql+psycopg://, sqlite:///, mysql+pymysql://)."""

    type: Literal["sql"]
    url: str
    timeout_seconds: float = Field(default=30, gt=0)


class SftpConnection(Model):
    """An SFTP server; host keys are always verified."""

    type: Literal["sftp"]
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    password: str | None = None
    private_key_path: str | None = None
    known_hosts: str | None = None
    host_key_fingerprint: str | None = None
    timeout_seconds: float = Field(default=30, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)
    """Transient errors (timeout, reset, refused) retried inside one attempt; auth and host key errors never."""
    retry_delay_seconds: float = Field(default=1, ge=0)
    """First wait between retries; doubles each time."""

    @model_validator(mode="after")
    def _auth(self) -> "SftpConnection":
        if not self.password and not self.private_key_path:
            raise ValueError("needs password or private_key_path")
        return self


class BearerAuth(Model):
    type: Literal["bearer"]
    token: str


class BasicAuth(Model):
    type: Literal["basic"]
    username: str
    password: str


class ApiKeyAuth(Model):
    type: Literal["api_key"]
    name: str
    value: str
    in_: Literal["header", "query"] = Field(default="header", alias="in")


HttpAuth = Annotated[Union[BearerAuth, BasicAuth, ApiKeyAuth], Field(discriminator="type")]


class HttpConnection(Model):
    """A REST API base URL with headers and auth."""

    type: Literal["http"]
    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuth | None = None
    timeout_seconds: float = Field(default=30, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)
    """Connection errors, timeouts, 429 and 5xx retried inside one attempt (Retry-After honoured)."""
    retry_delay_seconds: float = Field(default=1, ge=0)
    """First wait between retries; doubles each time."""


Connection = Annotated[Union[SqlConnection, SftpConnection, HttpConnection], Field(discriminator="type")]
