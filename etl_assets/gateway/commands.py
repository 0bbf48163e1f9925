"""`etl serve` and `etl user add|list|remove` (wired into etl_assets.cli)."""
from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from .settings import users_file
from .users import ROLES, UsersError

if TYPE_CHECKING:
    import uvicorn

    from .settings import GatewaySettings
    from .supervisor import DagsterProcesses

MIN_PASSWORD = 8


def add_gateway_commands(sub: argparse._SubParsersAction) -> None:
    """Add the `serve` and `user` subcommands; each sets `handler`."""
    serve = sub.add_parser("serve", help="the Dagster UI behind a login, the REST API and /metrics")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.add_argument("--dev", action="store_true", help="laptop mode: a throw-away secret when ETL_GATEWAY_SECRET is unset, cookies without Secure")
    serve.add_argument("--no-daemon", action="store_true", help="do not start dagster-daemon (no schedules, sensors or queued runs)")
    serve.add_argument("--forwarded-allow-ips", metavar="IPS", help="trust X-Forwarded-For/-Proto from these proxy addresses (comma-separated)")
    serve.set_defaults(handler=cmd_serve)
    user = sub.add_parser("user", help="gateway users (a file of argon2 password hashes)")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add a user or change their role and password")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of standard input")
    add.set_defaults(handler=cmd_user_add)
    user_sub.add_parser("list", help="users and roles").set_defaults(handler=cmd_user_list)
    remove = user_sub.add_parser("remove", help="remove a user (their sessions end at once)")
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_user_remove)


def cmd_user_add(args: argparse.Namespace) -> int:
    from .passwords import hash_password
    from .users import check_user, save_user

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else _prompt_password(args.name)
    if len(password) < MIN_PASSWORD:
        print(f"etl user add: the password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    path = users_file()
    try:
        save_user(path, check_user(args.name, args.role, hash_password(password), "etl user add"))
    except UsersError as exc:
        print(f"etl user add: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.name} ({args.role}) saved in {path}")
    return 0


def _prompt_password(name: str) -> str:
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("etl user add: the passwords differ")
    return first


def cmd_user_list(args: argparse.Namespace) -> int:
    from .users import read_users_file

    try:
        users = read_users_file(users_file())
    except UsersError as exc:
        print(f"etl user list: {exc}", file=sys.stderr)
        return 2
    for user in sorted(users.values(), key=lambda u: u.name):
        print(f"{user.name}\t{user.role}")
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    from .users import remove_user

    try:
        removed = remove_user(users_file(), args.name)
    except UsersError as exc:
        print(f"etl user remove: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.name} removed" if removed else f"no user {args.name} in {users_file()}")
    return 0 if removed else 1


def cmd_serve(args: argparse.Namespace) -> int:
    """Check the settings and users, then serve; 2 when they are not usable."""
    from .settings import GatewaySettings, SettingsError
    from .users import UserStore

    try:
        settings = GatewaySettings.from_env(dev=args.dev)
        users = UserStore(settings.users_file)
    except (SettingsError, UsersError) as exc:
        print(f"etl serve: {exc}", file=sys.stderr)
        return 2
    if users.count() == 0:
        print(f"etl serve: no users in {settings.users_file} or ETL_USER_* variables; add one with `etl user add NAME --role admin`", file=sys.stderr)
        return 2
    if settings.dev:
        print("etl serve: --dev: sessions end when the gateway restarts; cookies are sent over plain http", file=sys.stderr)
    return _serve(args, settings)


def _serve(args: argparse.Namespace, settings: GatewaySettings) -> int:
    """Start the Dagster processes, then the gateway in front of them; stop everything on Ctrl-C or SIGTERM."""
    import dagster as dg
    import uvicorn

    from ..cli import ensure_local_dagster_home
    from .app import create_app
    from .state import Gateway
    from .supervisor import DagsterProcesses, StartupError

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("etl_assets").setLevel(logging.INFO)
    ensure_local_dagster_home()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with DagsterProcesses(daemon=not args.no_daemon) as procs, dg.DagsterInstance.get() as instance:
            gateway = Gateway(settings, procs.admin_url, procs.viewer_url, instance)
            proxies = {"proxy_headers": True, "forwarded_allow_ips": args.forwarded_allow_ips} if args.forwarded_allow_ips else {"proxy_headers": False}
            server = uvicorn.Server(uvicorn.Config(create_app(gateway), host=args.host, port=args.port, log_level="info", **proxies))
            threading.Thread(target=_watch, args=(procs, server), daemon=True).start()
            print(f"etl serve: http://{args.host}:{args.port}/ (API: /api/v1/docs, metrics: /metrics)", file=sys.stderr)
            server.run()  # re-raises SIGINT/SIGTERM when done: both become KeyboardInterrupt, so the children stop
            return 1 if procs.dead() else 0
    except StartupError as exc:
        print(f"etl serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _watch(procs: DagsterProcesses, server: uvicorn.Server) -> None:
    """Stop the gateway when a Dagster process dies, so a supervisor (systemd, k8s) restarts everything."""
    while not server.should_exit:
        dead = procs.dead()
        if dead:
            logging.getLogger("etl_assets.gateway").error("the Dagster %s exited; stopping", dead)
            server.should_exit = True
        time.sleep(2)
