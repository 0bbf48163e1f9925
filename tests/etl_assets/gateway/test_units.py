"""The gateway's parts without servers: passwords, users, tokens, rate limits, GraphQL guard, history, uploads."""
from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import bcrypt
import pytest

from etl_assets.cli import main as etl
from etl_assets.gateway.graphql_guard import Unreadable, mutation_fields
from etl_assets.gateway.history import ConfigHistory
from etl_assets.gateway.login import safe_next
from etl_assets.gateway.passwords import hash_password, is_password_hash, verify_password
from etl_assets.gateway.proxy import viewer_refusal
from etl_assets.gateway.ratelimit import LoginGuard
from etl_assets.gateway.settings import GatewaySettings, RateLimit, SettingsError
from etl_assets.gateway.tokens import issue_token, read_token
from etl_assets.gateway.uploads import UploadRejected, write_config
from etl_assets.gateway.users import User, UsersError, UserStore, env_users, read_users_file, save_user
from tests.etl_assets.gateway.served import PIPELINE

SECRET = "unit-test-secret-" + "u" * 40


def test_passwords_argon2_and_bcrypt() -> None:
    argon = hash_password("correct horse")
    legacy = bcrypt.hashpw(b"battery staple", bcrypt.gensalt(rounds=4)).decode()
    assert argon.startswith("$argon2id$") and is_password_hash(argon) and is_password_hash(legacy)
    assert verify_password(argon, "correct horse") and not verify_password(argon, "wrong")
    assert verify_password(legacy, "battery staple") and not verify_password(legacy, "wrong")
    assert not is_password_hash("hunter2") and not verify_password("hunter2", "hunter2")


def test_users_file_refuses_plain_text_and_env_users_win(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  eve:\n    role: admin\n    password_hash: hunter2\n")
    with pytest.raises(UsersError, match="eve: password_hash is not an argon2 or bcrypt hash"):
        read_users_file(path)
    with pytest.raises(UsersError):  # a broken file is never overwritten
        save_user(path, User("amy", "viewer", hash_password("pw-amy-123")))
    hashed = hash_password("pw-env-123")
    with pytest.raises(UsersError, match="role 'root' is not one of admin, viewer"):
        env_users({"ETL_USER_BAD": f"root:{hashed}"})
    store = UserStore(tmp_path / "none.yaml", env={"ETL_USER_OPS": f"admin:{hashed}", "OTHER": "x"})
    assert store.get("ops") == User("ops", "admin", hashed) and store.count() == 1


def test_user_store_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    save_user(path, User("amy", "viewer", hash_password("pw-amy-123")))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = UserStore(path, env={})
    assert store.get("amy").role == "viewer"
    save_user(path, User("amy", "admin", hash_password("pw-amy-123")))
    assert store.get("amy").role == "admin"


def test_tokens_expire_and_are_bound_to_the_secret() -> None:
    token = issue_token(SECRET, "amy", "viewer", "stamp", 60)
    claims = read_token(SECRET, token)
    assert claims is not None and (claims.user, claims.role, claims.stamp) == ("amy", "viewer", "stamp")
    assert read_token("x" * 40, token) is None
    assert read_token(SECRET, issue_token(SECRET, "amy", "viewer", "stamp", 60, now=0)) is None
    assert read_token(SECRET, token + "x") is None


def test_login_guard_per_address_and_per_user() -> None:
    now = [1000.0]
    guard = LoginGuard(RateLimit(2, 60), RateLimit(3, 60), clock=lambda: now[0])
    guard.failed("1.1.1.1", "amy")
    guard.failed("1.1.1.1", "amy")
    assert guard.retry_after("2.2.2.2", "amy") == 60  # the user is blocked from any address
    guard.failed("1.1.1.1", "bob")
    assert guard.retry_after("1.1.1.1", "carl") == 60  # the address is blocked for any user
    now[0] += 61
    assert guard.retry_after("1.1.1.1", "amy") == 0
    guard.failed("3.3.3.3", "dan")
    guard.succeeded("dan")
    guard.failed("3.3.3.3", "dan")
    assert guard.retry_after("4.4.4.4", "dan") == 0


def test_settings_need_a_strong_secret() -> None:
    with pytest.raises(SettingsError, match="ETL_GATEWAY_SECRET is not set"):
        GatewaySettings.from_env({})
    with pytest.raises(SettingsError, match="too short"):
        GatewaySettings.from_env({"ETL_GATEWAY_SECRET": "short"})
    with pytest.raises(SettingsError, match="ATTEMPTS/SECONDS"):
        GatewaySettings.from_env({"ETL_GATEWAY_SECRET": SECRET, "ETL_GATEWAY_LOGIN_LIMIT": "lots"})
    dev = GatewaySettings.from_env({}, dev=True)
    assert len(dev.secret) >= 32 and dev.cookie_secure is False
    prod = GatewaySettings.from_env({"ETL_GATEWAY_SECRET": SECRET, "ETL_GATEWAY_TOKEN_TTL": "600"})
    assert prod.cookie_secure is True and prod.token_ttl_seconds == 600 and prod.user_limit == RateLimit(5, 300)


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("query { version }", set()),
        ("{ runsOrError { __typename } }", set()),
        ("subscription { pipelineRunLogs(runId: \"x\") { __typename } }", set()),
        ("query Q { mutationCount }", set()),
        ("mutation { launchRun(executionParams: {}) { __typename } }", {"launchRun", "mutation"}),
        ("query A { version } mutation B { terminateRun(runId: \"x\") { __typename } }", {"terminateRun", "mutation"}),
        ("mutation M { ...F } fragment F on Mutation { wipeAssets { __typename } }", {"mutation"}),
    ],
)
def test_mutation_fields(query: str, fields: set[str]) -> None:
    assert mutation_fields(query) == fields


def test_unreadable_graphql_and_viewer_requests() -> None:
    with pytest.raises(Unreadable):
        mutation_fields("mutation {")
    reload = "mutation { reloadWorkspace { __typename } }"
    assert viewer_refusal("GET", "/runs", [], "", b"") is None
    assert viewer_refusal("POST", "/graphql", [], "application/json", b'{"query": "query { version }"}') is None
    assert viewer_refusal("PUT", "/graphql", [], "", b"")
    assert viewer_refusal("POST", "/graphql", [], "application/json; charset=utf-8", f'{{"query": "{reload}"}}'.encode())
    assert viewer_refusal("HEAD", "/graphql", ["query { version }", reload], "text/plain", b"")
    assert viewer_refusal("POST", "/graphql/", [], "application/json", b'{"query": "query { version }"}')
    assert viewer_refusal("POST", "/report_asset_check/x", [], "", b"")


def test_history_keeps_each_distinct_text_once(tmp_path: Path) -> None:
    history = ConfigHistory(f"sqlite:///{tmp_path / 'history.db'}")
    first, new = history.record("shop", "a: 1\n", "shop.yaml", "loaded", "etl serve")
    assert new and first.version == 1
    assert history.record("shop", "a: 1\n", "shop.yaml", "uploaded", "amy") == (first, False)
    second, new = history.record("shop", "a: 2\n", "shop.yaml", "uploaded", "amy")
    other, _ = history.record("other", "a: 1\n", "other.yaml", "loaded", "etl serve")
    assert new and second.version == 2 and other.version == 1
    assert [v.version for v in history.versions("shop")] == [2, 1] and history.versions("nope") == []
    history.close()


def test_write_config_validates_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    configs = tmp_path / "configs"
    with pytest.raises(UploadRejected) as rejected:
        write_config(configs, PIPELINE.replace("mode: append", "mode: upsert"), None)
    assert rejected.value.status == 422 and rejected.value.errors[0].startswith("configs/shop.yaml:")
    assert sorted(os.listdir(configs)) == []
    written = write_config(configs, PIPELINE, None)
    assert written.path == configs / "shop.yaml" and written.changed
    assert not write_config(configs, PIPELINE, "shop.yaml").changed
    with pytest.raises(UploadRejected) as conflict:
        write_config(configs, PIPELINE, "copy.yaml")
    assert conflict.value.status == 409 and sorted(os.listdir(configs)) == ["shop.yaml"]
    for bad_name in ("../escape.yaml", "shop.yaml\n", ".hidden.yaml"):
        with pytest.raises(UploadRejected, match="invalid file name"):
            write_config(configs, PIPELINE, bad_name)


def test_cli_user_add_and_serve_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ETL_USERS_FILE", str(tmp_path / "users.yaml"))
    monkeypatch.setenv("ETL_GATEWAY_SECRET", "")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert etl(["user", "add", "amy", "--role", "viewer", "--password-stdin"]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough password\n"))
    assert etl(["user", "add", "amy", "--role", "admin", "--password-stdin"]) == 0
    user = read_users_file(tmp_path / "users.yaml")["amy"]
    assert user.role == "admin" and verify_password(user.password_hash, "long enough password")
    capsys.readouterr()
    assert etl(["user", "list"]) == 0 and capsys.readouterr().out == "amy\tadmin\n"
    assert etl(["serve"]) == 2 and "ETL_GATEWAY_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("ETL_GATEWAY_SECRET", SECRET)
    monkeypatch.setenv("ETL_USERS_FILE", str(tmp_path / "none.yaml"))
    assert etl(["serve"]) == 2 and "no users" in capsys.readouterr().err
    monkeypatch.setenv("ETL_USERS_FILE", str(tmp_path / "users.yaml"))
    assert etl(["user", "remove", "amy"]) == 0 and read_users_file(tmp_path / "users.yaml") == {}


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "/\t/evil.example", "/runs\n", "https://evil.example", ""])
def test_login_never_sends_the_browser_elsewhere(target: str) -> None:
    assert safe_next(target) == "/"
    assert safe_next("/runs/abc?view=all") == "/runs/abc?view=all"


def test_preview_of_a_stored_table_takes_the_newest_file_parquet_of_an_earlier_version_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster as dg
    import pyarrow as pa
    import pyarrow.parquet as pq

    from etl_assets.gateway.preview import _stored
    from etl_assets.tables import write_table

    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path))
    folder = tmp_path / "shop" / "orders"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2, 3]}), folder / "2024-01-01.parquet")
    source, frame = _stored(dg.AssetKey(["shop", "orders"]), 2)
    assert source == "stored table 2024-01-01" and frame["id"].tolist() == [1, 2]
    write_table(folder / "2024-01-02.arrow", [pa.table({"id": [7, 8, 9]})])
    os.utime(folder / "2024-01-02.arrow", (2e9, 2e9))
    source, frame = _stored(dg.AssetKey(["shop", "orders"]), 5)
    assert source == "stored table 2024-01-02" and frame["id"].tolist() == [7, 8, 9]
