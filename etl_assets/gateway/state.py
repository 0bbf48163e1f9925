"""The gateway's long-lived parts: settings, users, webserver clients, the instance, history, metrics."""
from __future__ import annotations

import asyncio
import logging

import dagster as dg
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .auth import Authenticator, Principal
from .dagster_api import DagsterApi
from .history import ConfigHistory, history_url
from .metrics import DagsterMetrics
from .proxy import Upstream
from .settings import GatewaySettings
from .users import UserStore

log = logging.getLogger("etl_assets.gateway")
DEFAULT_LOCATION = "etl_assets"


class Gateway:
    """Everything a request handler needs, on `app.state.gateway`."""

    def __init__(self, settings: GatewaySettings, admin_url: str, viewer_url: str, instance: dg.DagsterInstance, location: str = DEFAULT_LOCATION):
        self.settings = settings
        self.auth = Authenticator(settings, UserStore(settings.users_file))
        self.admin = Upstream.create(admin_url)
        self.viewer = Upstream.create(viewer_url)
        self.dagster = DagsterApi(admin_url)
        self.instance = instance
        self.location = location
        self.history = ConfigHistory(history_url(instance))
        self.upload_lock = asyncio.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DagsterMetrics(instance))

    def upstream_for(self, principal: Principal) -> Upstream:
        """Admins reach the normal webserver, everyone else the read-only one."""
        return self.admin if principal.is_admin else self.viewer

    async def record_loaded(self, who: str) -> None:
        """Record the configs directory in the history (at start and after each reload)."""
        try:
            await run_in_threadpool(self.history.record_directory, self.settings.configs_dir, who)
        except Exception:  # noqa: BLE001 - history must never break serving
            log.exception("could not record the config history")

    async def close(self) -> None:
        for client in (self.admin.client, self.viewer.client):
            await client.aclose()
        await self.dagster.close()
        self.history.close()


def get_gateway(request: Request) -> Gateway:
    """FastAPI dependency: the app's Gateway."""
    return request.app.state.gateway
