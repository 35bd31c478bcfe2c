"""The team stack in one folder: PostgreSQL, an MLflow tracking server on it (artifacts proxied through the
server) and a Chroma server, so teammates share runs, prompts and indexes through two URLs.

`python -m workbench.team up` (what `make team` runs) starts whatever is not running, in the background,
and prints the variables that point a project at the stack; `down` stops it; `status` and `env` report.
The tests start the stack with the same `up`/`down`, and their server fixtures use `serve`/`stop`.

Layout of the folder: `team.json` (host and ports, fixed at the first `up`), `postgres/` (the cluster,
owned by the `postgres` user when run as root, since PostgreSQL refuses to run as root), `pgpass` (the
generated database password, mode 0600), `artifacts/` (what MLflow proxies), `chroma/`, `logs/`, `run/`.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .errors import Exit, Failure, InfrastructureError, WorkbenchError
from .rag.store import HOST_ENV, PORT_ENV

TRACKING_ENV = "WORKBENCH_TRACKING_URI"
FOLDER_ENV = "WORKBENCH_TEAM_DIR"
DB_USER, DB_NAME = "workbench", "mlflow"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORTS = {"postgres_port": 5433, "mlflow_port": 5000, "chroma_port": 8000}  # 5433: beside a system 5432
INSTALL_POSTGRES = "install PostgreSQL (Debian: apt-get install postgresql; `make team` does it)"


def default_folder() -> Path:
    """`WORKBENCH_TEAM_DIR`; else /var/lib/workbench-team for root (the postgres user must reach it), else
    the user's data folder."""
    if os.environ.get(FOLDER_ENV):
        return Path(os.environ[FOLDER_ENV]).expanduser().resolve()
    if os.geteuid() == 0:
        return Path("/var/lib/workbench-team")
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "workbench-team"


@dataclass(frozen=True)
class Stack:
    """Where the stack lives and listens. Port 0 means any free port, chosen at the first `up`."""

    folder: Path
    host: str = "127.0.0.1"
    postgres_port: int = DEFAULT_PORTS["postgres_port"]
    mlflow_port: int = DEFAULT_PORTS["mlflow_port"]
    chroma_port: int = DEFAULT_PORTS["chroma_port"]
    workers: int = 2
    allowed_hosts: str = ""  # more Host headers MLflow accepts (a DNS name), comma-separated

    @classmethod
    def load(cls, folder: str | Path | None = None, **overrides: int | str | None) -> Stack:
        """The stack recorded in `<folder>/team.json`, with the given settings; a new one gets the defaults."""
        folder = Path(folder).expanduser().resolve() if folder else default_folder()
        state = folder / "team.json"
        given = {k: v for k, v in overrides.items() if v is not None}
        try:
            saved = json.loads(state.read_text()) if state.is_file() else {}
            saved.pop("folder", None)
            return cls(folder=folder, **{**saved, **given})
        except (ValueError, TypeError, AttributeError) as exc:
            raise WorkbenchError(
                f"not a team stack state file ({exc})", file=state, fix="restore it, or delete it to start over"
            ) from None

    @property
    def client_host(self) -> str:
        """The host clients use: this machine's name when the stack listens on every interface."""
        return socket.gethostname() if self.host in ("0.0.0.0", "::") else self.host

    @property
    def local_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host

    @property
    def tracking_uri(self) -> str:
        return f"http://{self.client_host}:{self.mlflow_port}"

    @property
    def backend_uri(self) -> str:
        """The MLflow backend store; the password is in `pgpass` (PGPASSFILE), never in a URI or a command line."""
        return f"postgresql://{DB_USER}@127.0.0.1:{self.postgres_port}/{DB_NAME}"

    def env(self) -> dict[str, str]:
        """The variables that point a project (commands, notebooks, CI) at the stack."""
        return {TRACKING_ENV: self.tracking_uri, HOST_ENV: self.client_host, PORT_ENV: str(self.chroma_port)}

    def path(self, *parts: str) -> Path:
        return self.folder.joinpath(*parts)


def up(stack: Stack, say: Callable[[str], object] = lambda _: None) -> Stack:
    """Start PostgreSQL, the MLflow server and the Chroma server, each unless it is already running;
    `say` hears what is being started."""
    running = status(stack)
    recorded = Stack.load(stack.folder)
    if any(running.values()) and asdict(recorded) != asdict(stack):
        raise WorkbenchError(
            f"the team stack in {stack.folder} is running with other settings ({_describe(recorded)})",
            fix="stop it first (make team-down, or python -m workbench.team down) to change host or ports",
        )
    stack = replace(
        stack,
        postgres_port=stack.postgres_port or free_port(),
        mlflow_port=stack.mlflow_port or free_port(),
        chroma_port=stack.chroma_port or free_port(),
    )
    listeners = {"postgres": "127.0.0.1", "mlflow": stack.host, "chroma": stack.host}
    for name, host in listeners.items():
        if not running[name]:
            _check_free(host, getattr(stack, f"{name}_port"), name)  # before anything starts
    for name in ("logs", "run", "artifacts", "chroma"):
        stack.path(name).mkdir(parents=True, exist_ok=True)
    stack.path("team.json").write_text(json.dumps({k: v for k, v in asdict(stack).items() if k != "folder"}))
    if not running["postgres"]:
        say(f"starting PostgreSQL on 127.0.0.1:{stack.postgres_port}")
        _start_postgres(stack)
    _ensure_database(stack)
    if not running["mlflow"]:
        say(
            f"starting MLflow on {stack.host}:{stack.mlflow_port} (its first start creates its tables: a minute or two)"
        )
        ready = f"http://{stack.local_host}:{stack.mlflow_port}/health"
        _daemon(stack, "mlflow", _mlflow_command(stack), ready, timeout_s=900)
    if not running["chroma"]:
        say(f"starting Chroma on {stack.host}:{stack.chroma_port}")
        command = chroma_command(stack.path("chroma"), stack.host, stack.chroma_port)
        _daemon(stack, "chroma", command, f"http://{stack.local_host}:{stack.chroma_port}/api/v2/heartbeat")
    return stack


def down(stack: Stack) -> list[str]:
    """Stop whatever of the stack runs; the data stays in the folder. Returns what was stopped."""
    stopped = []
    for name in ("chroma", "mlflow"):
        pid = _pid(stack, name)
        if pid is not None:
            stop(pid)
            stopped.append(name)
        stack.path("run", f"{name}.pid").unlink(missing_ok=True)
    if _postgres_running(stack):
        _pg(stack, "pg_ctl", "-D", str(stack.path("postgres")), "-m", "fast", "-w", "stop")
        stopped.append("postgres")
    return stopped


def status(stack: Stack) -> dict[str, bool]:
    return {
        "postgres": _postgres_running(stack),
        "mlflow": _pid(stack, "mlflow") is not None,
        "chroma": _pid(stack, "chroma") is not None,
    }


# Server processes: one way to start one, wait until it answers, and stop it (also used by the tests' fixtures).


def serve(command: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None, timeout_s: float = 180):
    """Start `command` in its own session (so it survives the caller and stops as a group), writing to `log`,
    and wait until `ready_url` answers; a server that exits or never answers is stopped and explained."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise InfrastructureError(f"{' '.join(command[:4])} exited ({process.returncode}): {_tail(log)}")
        try:
            urllib.request.urlopen(ready_url, timeout=2).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                stop(process)
                raise InfrastructureError(
                    f"{' '.join(command[:4])} did not answer at {ready_url} in {timeout_s:.0f} s: {_tail(log)}"
                ) from None
            time.sleep(0.3)


def stop(process: subprocess.Popen | int, grace_s: float = 10) -> None:
    """SIGTERM the server's process group (all its workers), wait a bounded time for every member to exit,
    then SIGKILL: a teardown never hangs, and the ports are free when it returns."""
    pid = process if isinstance(process, int) else process.pid
    try:
        send = os.killpg if os.getpgid(pid) == pid else os.kill
    except ProcessLookupError:
        _reap(process)
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            send(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if not _alive(pid, process, send):
                return
            time.sleep(0.1)


def mlflow_command(backend_uri: str, artifacts: Path, host: str, port: int, workers: int = 2) -> list[str]:
    """`mlflow server` with proxied artifacts: clients upload and download through the server, and artifact
    URIs (`mlflow-artifacts:/...`) name no path, so the artifacts folder can move."""
    return [
        *(sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri),
        *("--serve-artifacts", "--artifacts-destination", str(artifacts)),
        *("--host", host, "--port", str(port), "--workers", str(workers)),
    ]


def chroma_command(path: Path, host: str, port: int) -> list[str]:
    chroma = Path(sys.executable).parent / "chroma"
    return [str(chroma if chroma.exists() else shutil.which("chroma") or "chroma"), "run", "--path", str(path)] + [
        *("--host", host, "--port", str(port))
    ]


def chroma_env() -> dict[str, str]:
    return {**os.environ, "ANONYMIZED_TELEMETRY": "False"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mlflow_command(stack: Stack) -> list[str]:
    command = mlflow_command(stack.backend_uri, stack.path("artifacts"), stack.host, stack.mlflow_port, stack.workers)
    if stack.host not in LOOPBACK or stack.allowed_hosts:
        return [*command, "--allowed-hosts", ",".join(_allowed_hosts(stack))]
    return command


def _allowed_hosts(stack: Stack) -> list[str]:
    """MLflow's defaults (loopback and private addresses; it refuses other Host headers against DNS rebinding),
    this machine's names, which the printed variables use, and the stack's own `allowed_hosts`."""
    names = ["localhost", "127.0.0.1", "[::1]", socket.gethostname(), socket.getfqdn(), stack.host]
    names += [h.strip() for h in stack.allowed_hosts.split(",") if h.strip()]
    private = ["10.*", "192.168.*", "172.1[6-9].*", "172.2[0-9].*", "172.3[01].*", "fc00:*", "fd00:*"]
    return list(dict.fromkeys([*names, *(f"{n}:*" for n in names if n and not n.endswith("*")), *private]))


def _daemon(stack: Stack, name: str, command: list[str], ready_url: str, timeout_s: float = 180) -> None:
    env = chroma_env() if name == "chroma" else {**os.environ, "PGPASSFILE": str(stack.path("pgpass"))}
    process = serve(command, ready_url, stack.path("logs", f"{name}.log"), env=env, timeout_s=timeout_s)
    stack.path("run", f"{name}.pid").write_text(str(process.pid))


def _pid(stack: Stack, name: str) -> int | None:
    """The pid of a running server of the stack, from its pid file; None when it is gone (or the pid was reused)."""
    try:
        pid = int(stack.path("run", f"{name}.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if name.encode() in cmdline and _alive(pid) else None


def _reap(process: subprocess.Popen | int) -> None:
    """Collect an exited child, so it stops answering signals (a zombie still answers kill(0))."""
    if isinstance(process, subprocess.Popen):
        process.poll()
        return
    try:
        os.waitpid(process, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: init collects it


def _alive(pid: int, process: subprocess.Popen | int | None = None, send: Callable = os.kill) -> bool:
    _reap(process if process is not None else pid)
    try:
        send(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_free(host: str, port: int, name: str) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no user
        try:
            sock.bind((host, port))
        except OSError:
            raise InfrastructureError(
                f"{name}: port {port} on {host} is in use by another program",
                fix=f"stop it, or choose another port: python -m workbench.team up --{name}-port N",
            ) from None


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-1500:].strip() if log.exists() else "(no log)"


def _describe(stack: Stack) -> str:
    return f"host {stack.host}, ports postgres {stack.postgres_port}, mlflow {stack.mlflow_port}, chroma {stack.chroma_port}"


# PostgreSQL: a private cluster in the folder, listening on loopback only (only the MLflow server talks to it).


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise InfrastructureError(f"PostgreSQL's {name} was not found", fix=INSTALL_POSTGRES)
    return str(versions[-1])


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise InfrastructureError("running as root, and there is no `postgres` user", fix=INSTALL_POSTGRES) from None
    return ["runuser", "-u", "postgres", "--", *command]


def _pg(stack: Stack, program: str, *args: str) -> subprocess.CompletedProcess:
    command = _as_server_user([_pg_bin(program), *args])
    try:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfrastructureError(f"{program} could not run: {exc}", fix=INSTALL_POSTGRES) from None
    if done.returncode != 0 and not (program == "pg_ctl" and "status" in args):  # status: 3 = not running
        log = stack.path("postgres", "server.log")
        detail = (done.stderr or done.stdout).strip()[-800:]
        raise InfrastructureError(f"{program} failed: {detail}{f'; {_tail(log)}' if log.exists() else ''}")
    return done


def _postgres_running(stack: Stack) -> bool:
    if not stack.path("postgres", "PG_VERSION").exists():
        return False
    try:
        return _pg(stack, "pg_ctl", "-D", str(stack.path("postgres")), "status").returncode == 0
    except InfrastructureError:
        return False


def _start_postgres(stack: Stack) -> None:
    data = stack.path("postgres")
    if not (data / "PG_VERSION").exists():
        _init_cluster(stack, data)
    log = str(data / "server.log")
    _pg(stack, "pg_ctl", "-D", str(data), "-l", log, "-o", f"-p {stack.postgres_port}", "-w", "-t", "120", "start")


def _init_cluster(stack: Stack, data: Path) -> None:
    data.mkdir(mode=0o700, exist_ok=True)
    if any(data.iterdir()):
        raise WorkbenchError(
            f"{data}: not a PostgreSQL cluster, and not empty", fix="empty it or choose another team folder"
        )
    password = secrets.token_urlsafe(24)
    pgpass = stack.path("pgpass")
    pgpass.touch(mode=0o600)
    pgpass.write_text(f"127.0.0.1:*:*:{DB_USER}:{password}\n")
    pwfile = data.parent / ".initdb-password"
    pwfile.write_text(password)
    try:
        if os.geteuid() == 0:
            for path in (data, pwfile):
                shutil.chown(path, "postgres", "postgres")
            if subprocess.run(_as_server_user(["test", "-w", str(data)])).returncode != 0:
                raise WorkbenchError(
                    f"{data}: the postgres user cannot reach this folder (PostgreSQL does not run as root)",
                    fix="choose a team folder it can reach, e.g. --folder /var/lib/workbench-team",
                )
        auth = ("--auth-local=scram-sha-256", "--auth-host=scram-sha-256")
        _pg(stack, "initdb", "-D", str(data), "-U", DB_USER, "--pwfile", str(pwfile), *auth, "-E", "UTF8", "--locale=C")
    finally:
        pwfile.unlink(missing_ok=True)
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n# workbench team stack\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")


def _ensure_database(stack: Stack) -> None:
    try:
        import psycopg  # the PostgreSQL driver (SQLAlchemy's default for postgresql://), only for the team stack
    except ImportError:
        raise WorkbenchError(
            "the team stack needs the PostgreSQL driver psycopg", fix="pip install 'llmops-workbench[team]'"
        ) from None

    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=stack.postgres_port,
            user=DB_USER,
            dbname="postgres",
            passfile=str(stack.path("pgpass")),
            autocommit=True,
        ) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
                connection.execute(f"CREATE DATABASE {DB_NAME}")
    except psycopg.Error as exc:
        raise InfrastructureError(f"PostgreSQL on port {stack.postgres_port}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.team", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status", "env"])
    parser.add_argument("--folder", help=f"the stack's folder (default: ${FOLDER_ENV}, or {default_folder()})")
    parser.add_argument("--host", help="the interface MLflow and Chroma listen on (default 127.0.0.1; 0.0.0.0: all)")
    for name, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"default {port}; 0: any free port")
    parser.add_argument("--workers", type=int, help="MLflow server workers (default 2)")
    parser.add_argument("--allowed-hosts", help="more names clients may reach MLflow by (e.g. mlflow.example.org)")
    args = parser.parse_args(argv)
    settings = {k: getattr(args, k) for k in ("host", "workers", "allowed_hosts", *DEFAULT_PORTS)}
    try:
        stack = Stack.load(args.folder, **settings)
        if args.action == "up":
            stack = up(stack, say=lambda line: print(line, file=sys.stderr, flush=True))
            print(f"team stack up in {stack.folder} ({_describe(stack)})")
            print(f"  MLflow  {stack.tracking_uri}  (PostgreSQL store, artifacts proxied to {stack.path('artifacts')})")
            print(f"  Chroma  http://{stack.client_host}:{stack.chroma_port}")
            print("point a project (commands, notebooks, CI) at it:")
        elif args.action == "down":
            stopped = down(stack)
            print(f"stopped: {', '.join(stopped) or 'nothing was running'} (data kept in {stack.folder})")
        elif args.action == "status":
            for name, up_ in status(stack).items():
                print(f"{name:9} {'running' if up_ else 'stopped'}")
        if args.action in ("up", "env"):
            print("".join(f"export {k}={v}\n" for k, v in stack.env().items()), end="")
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
