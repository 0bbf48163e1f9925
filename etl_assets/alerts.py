"""Alert messages and their delivery: a JSON webhook (Slack-compatible `text`) and/or SMTP e-mail.

The text is redacted with the pipeline's secrets plus the webhook URL and the SMTP password, so an
alert never carries a secret, whatever the error message said.
"""
from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Callable
from urllib.parse import urlsplit

from .config import LoadedPipeline
from .config.models import AlertsConfig
from .redact import redact

ATTEMPTS = 3
TIMEOUT_SECONDS = 10
KIND_TITLE = {"run_failure": "Run failed", "check_failure": "Check failed", "sla_miss": "SLA missed"}


@dataclass(frozen=True)
class Alert:
    """One thing that went wrong, in terms a person on call needs."""

    kind: str
    """run_failure | check_failure | sla_miss"""
    pipeline: str
    what: str
    assets: list[str] = field(default_factory=list)
    run_id: str | None = None

    def url(self, ui_base_url: str) -> str | None:
        return f"{ui_base_url.rstrip('/')}/runs/{self.run_id}" if self.run_id else None

    def text(self, ui_base_url: str) -> str:
        lines = [f"[{self.pipeline}] {KIND_TITLE[self.kind]}: {self.what}"]
        lines.append(f"pipeline: {self.pipeline}")
        if self.assets:
            lines.append(f"asset: {', '.join(self.assets)}")
        if self.run_id:
            lines.append(f"run: {self.run_id}")
            lines.append(f"link: {self.url(ui_base_url)}")
        return "\n".join(lines)

    def payload(self, ui_base_url: str) -> dict[str, Any]:
        return {
            "text": self.text(ui_base_url),
            "kind": self.kind,
            "pipeline": self.pipeline,
            "assets": self.assets,
            "run_id": self.run_id,
            "url": self.url(ui_base_url),
        }


class AlertDeliveryError(Exception):
    """Every configured channel was tried; at least one failed (the message says which, redacted)."""


def alert_secrets(loaded: LoadedPipeline) -> frozenset[str]:
    """Values an alert must never show: the config's env values, the webhook URL, the SMTP password."""
    alerts = loaded.config.alerts
    extra: set[str] = set()
    if alerts is not None:
        if alerts.webhook:
            url = urlsplit(alerts.webhook)
            extra |= {alerts.webhook, url.path + (f"?{url.query}" if url.query else ""), url.password or ""}
        if alerts.email is not None:
            extra |= {alerts.email.password or ""}
    return loaded.secrets | frozenset(s for s in extra if len(s) > 1)


def _post(url: str, payload: dict[str, Any]) -> None:
    import requests  # here, not for every run that loads the definitions

    response = requests.post(url, json=payload, timeout=TIMEOUT_SECONDS)
    response.raise_for_status()


def _mail(cfg: AlertsConfig, subject: str, body: str) -> None:
    email = cfg.email
    assert email is not None
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = email.sender
    msg["To"] = ", ".join(email.to)
    msg.set_content(body)
    with smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
        if email.starttls:
            smtp.starttls()
        if email.username:
            smtp.login(email.username, email.password or "")
        smtp.send_message(msg)


def _with_retries(send: Callable[[], None], pause: float) -> None:
    for attempt in range(ATTEMPTS):
        try:
            send()
            return
        except Exception:  # noqa: BLE001 - network and protocol errors alike; the last one is raised
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(pause * (attempt + 1))


def _describe(exc: Exception) -> str:
    """An HTTP error by its status only (its text quotes the secret URL); anything else in full."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, requests.RequestException):
        return type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def send_alert(loaded: LoadedPipeline, alert: Alert, pause: float = 1.0) -> list[str]:
    """Deliver to every configured channel (each retried); the channels that worked.

    Raises AlertDeliveryError (after trying all channels) when any failed.
    """
    cfg = loaded.config.alerts
    assert cfg is not None
    secrets = alert_secrets(loaded)
    payload = {k: redact(v, secrets) if isinstance(v, str) else v for k, v in alert.payload(cfg.ui_base_url).items()}
    subject = payload["text"].splitlines()[0]
    channels: dict[str, Callable[[], None]] = {}
    if cfg.webhook:
        channels["webhook"] = lambda: _post(cfg.webhook or "", payload)
    if cfg.email:
        channels["email"] = lambda: _mail(cfg, subject, payload["text"])
    done, failed = [], []
    for name, send in channels.items():
        try:
            _with_retries(send, pause)
            done.append(name)
        except Exception as exc:  # noqa: BLE001
            failed.append(f"{name}: {redact(_describe(exc), secrets)}")
    if failed:
        raise AlertDeliveryError(f"alert for {alert.pipeline} not delivered ({'; '.join(failed)})")
    return done
