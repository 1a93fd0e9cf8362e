"""A real PostgreSQL server for the embedded stack: initdb/pg_ctl of the installed PostgreSQL.

The server listens on 127.0.0.1 only, with trust authentication for user `elt` and no unix
socket (a socket path inside a deep data directory can exceed the 107-byte limit, and a socket
in /tmp would be shared with whatever else runs there). PostgreSQL refuses to run as root, so
when this process is root the server runs as Debian's unprivileged `postgres` user.
"""

import glob
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from lambda_bridge.exceptions import EltError

USER = "elt"
DATABASE = "elt"
# The account Debian's postgresql package creates; the server runs as it when we are root.
SERVICE_ACCOUNT = "postgres"
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
LOG_NAME = "server.log"
_LOG_TAIL_LINES = 20
_START_TIMEOUT_S = 60
_PORT_ATTEMPTS = 3


class LocalPostgresError(EltError):
    """The local PostgreSQL server cannot be found, initialised, started or stopped."""


class UnreachableDataDirError(LocalPostgresError):
    """Running as root, the `postgres` account cannot reach the data directory."""


def find_pg_bin() -> Path | None:
    """The directory holding PostgreSQL's `initdb` and `pg_ctl`, or None when none is installed.

    `$ELT_PG_BIN` wins, then `PATH`, then the newest Debian install (`/usr/lib/postgresql/*/bin`),
    which Debian keeps off `PATH`.
    """
    explicit = os.environ.get("ELT_PG_BIN")
    if explicit:
        return Path(explicit)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        # Resolved, because a symlink in /usr/local/bin is not where the `postgres` binary lives.
        found = Path(initdb).resolve().parent
        if (found / "pg_ctl").exists():
            return found
        return Path(initdb).parent
    candidates = [Path(p) for p in glob.glob(DEBIAN_BIN_GLOB) if _has_tools(Path(p))]
    if not candidates:
        return None
    return max(candidates, key=lambda p: _version_key(p.parent.name))


def _has_tools(bin_dir: Path) -> bool:
    return (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists()


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit()) or (0,)


def free_port() -> int:
    """A loopback TCP port free at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalPostgres:
    """One PostgreSQL server on a data directory of its own, on a loopback port.

    Use `LocalPostgres.start(data_dir)`; the data directory is initialised once and reused, so a
    stop and a start on the same directory keep the data.
    """

    def __init__(self, data_dir: Path, port: int, bin_dir: Path) -> None:
        """Describe a server; `start` is what creates one."""
        self.data_dir = data_dir
        self.port = port
        self.bin_dir = bin_dir
        self._running = False

    @property
    def url(self) -> str:
        """The `ELT_WAREHOUSE_URL` of the `elt` database on this server."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def log_path(self) -> Path:
        """The server's log file (inside the data directory, which the server owns)."""
        return self.data_dir / LOG_NAME

    @classmethod
    def start(cls, data_dir: Path, port: int | None = None) -> "LocalPostgres":
        """Initialise `data_dir` if it is new, start the server and create database `elt`.

        Args:
            data_dir: The cluster's directory; created and initialised when missing or empty.
            port: The loopback port; a free one when None.

        Returns:
            The running server.

        Raises:
            LocalPostgresError: PostgreSQL is not installed, the directory cannot be used, or
                the server does not start (the message carries the tail of its log).
        """
        bin_dir = find_pg_bin()
        if bin_dir is None or not _has_tools(bin_dir):
            where = f" (ELT_PG_BIN={bin_dir} has no initdb/pg_ctl)" if bin_dir else ""
            msg = (
                f"PostgreSQL is not installed{where}: install it with `apt-get install "
                "postgresql` (or point ELT_PG_BIN at the directory holding initdb and pg_ctl)"
            )
            raise LocalPostgresError(msg)
        data_dir = Path(data_dir).absolute()
        runner = _Runner.for_current_user()
        _prepare_data_dir(data_dir, runner)
        if not (data_dir / "PG_VERSION").exists():
            _initdb(bin_dir, data_dir, runner)
        attempts = 1 if port is not None else _PORT_ATTEMPTS
        for attempt in range(attempts):
            server = cls(data_dir, port if port is not None else free_port(), bin_dir)
            try:
                server._pg_ctl_start(runner)
            except LocalPostgresError:
                # Another process may have taken the free port between asking and binding.
                if attempt + 1 == attempts or "could not bind" not in server._log_tail():
                    raise
                continue
            server._running = True
            try:
                server._ensure_database()
            except Exception:
                server.stop()
                raise
            return server
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the server (`pg_ctl -m fast stop`); the data directory stays."""
        if not self._running:
            return
        result = _Runner.for_current_user().run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
        )
        if result.returncode != 0 and "Is server running?" not in result.stderr:
            msg = f"PostgreSQL in {self.data_dir} did not stop: {result.stderr.strip()}"
            raise LocalPostgresError(msg)
        self._running = False

    def __enter__(self) -> Self:
        """The running server."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def _pg_ctl_start(self, runner: "_Runner") -> None:
        command = [
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(_START_TIMEOUT_S),
            "-o",
            f"-p {self.port}",
            "start",
        ]
        result = runner.run(command)
        if result.returncode != 0:
            detail = result.stderr.strip() or result.stdout.strip()
            msg = (
                f"PostgreSQL did not start on 127.0.0.1:{self.port} from {self.data_dir}: "
                f"{detail}\nlast lines of {self.log_path}:\n{self._log_tail()}"
            )
            raise LocalPostgresError(msg)

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def _ensure_database(self) -> None:
        import psycopg
        from psycopg import sql

        admin = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


class _Runner:
    """Runs PostgreSQL's tools as the user the server may run as."""

    def __init__(self, account: pwd.struct_passwd | None) -> None:
        self.account = account

    @classmethod
    def for_current_user(cls) -> "_Runner":
        if os.geteuid() != 0:
            return cls(None)
        try:
            return cls(pwd.getpwnam(SERVICE_ACCOUNT))
        except KeyError:
            msg = (
                f"PostgreSQL refuses to run as root and there is no `{SERVICE_ACCOUNT}` user to "
                "run it as: install it with `apt-get install postgresql` (which creates the "
                "user) or run as an unprivileged user"
            )
            raise LocalPostgresError(msg) from None

    def run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        env = dict(os.environ)
        if self.account is not None:
            kwargs = {
                "user": self.account.pw_uid,
                "group": self.account.pw_gid,
                "extra_groups": [],
            }
            env["HOME"] = self.account.pw_dir
        # cwd "/" because the caller's directory (e.g. /root) may be closed to the server's user.
        return subprocess.run(
            command, capture_output=True, text=True, cwd="/", env=env, check=False, **kwargs
        )

    def chown(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def owns(self, path: Path) -> bool:
        uid = self.account.pw_uid if self.account is not None else os.geteuid()
        return path.stat().st_uid == uid


def _prepare_data_dir(data_dir: Path, runner: _Runner) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        msg = f"PostgreSQL data directory {data_dir} exists and is not a directory"
        raise LocalPostgresError(msg)
    initialised = (data_dir / "PG_VERSION").exists()
    if data_dir.exists() and not initialised and any(data_dir.iterdir()):
        msg = (
            f"PostgreSQL data directory {data_dir} is neither empty nor a PostgreSQL cluster: "
            "empty it or choose another directory"
        )
        raise LocalPostgresError(msg)
    data_dir.mkdir(parents=True, exist_ok=True)
    if runner.account is not None:
        _check_traversable(data_dir.parent, runner.account)
        if not initialised:
            runner.chown(data_dir)
    if not runner.owns(data_dir):
        msg = (
            f"PostgreSQL data directory {data_dir} belongs to another user: the server must "
            "own it (a cluster created by another account cannot be reused)"
        )
        raise LocalPostgresError(msg)
    if not initialised:
        # initdb insists on 0700 (or 0750) and the server on its owner alone.
        data_dir.chmod(0o700)


def _check_traversable(directory: Path, account: pwd.struct_passwd) -> None:
    """Fail clearly when the server's user cannot reach the data directory.

    Root's own directories (a pytest tmp_path under /tmp/pytest-of-root, a checkout under
    /root) are often mode 0700; chmod-ing them behind the caller's back would widen access to
    everything inside, so this names the directory to change instead.
    """
    for ancestor in [directory, *directory.parents]:
        mode = ancestor.stat()
        if mode.st_uid == account.pw_uid:
            allowed = bool(mode.st_mode & stat.S_IXUSR)
        elif mode.st_gid == account.pw_gid:
            allowed = bool(mode.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(mode.st_mode & stat.S_IXOTH)
        if not allowed:
            msg = (
                f"PostgreSQL runs as user `{account.pw_name}` (it refuses root), which cannot "
                f"enter {ancestor} (mode {stat.filemode(mode.st_mode)}): put the data "
                "directory under a directory that user can traverse, or `chmod o+x` it"
            )
            raise UnreachableDataDirError(msg)


def _initdb(bin_dir: Path, data_dir: Path, runner: _Runner) -> None:
    started = time.monotonic()
    result = runner.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "--auth=trust",
            "-U",
            USER,
            "--encoding=UTF8",
            # The C locale sorts by bytes and needs no OS locale installed.
            "--locale=C",
        ]
    )
    if result.returncode != 0:
        msg = (
            f"initdb of {data_dir} failed after {time.monotonic() - started:.1f}s: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
        raise LocalPostgresError(msg)
    # Settings in postgresql.conf rather than on pg_ctl's command line, so a server started by
    # hand on this directory behaves the same; the port stays per start.
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# elt local stack\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
        )
