"""PostgreSQL, Redis and nginx from Debian's packages, started in a temp dir on loopback ports.

Used by the scale-out test. PostgreSQL refuses to run as root, so as root the server runs
as `nobody` (the data folder is handed to that user).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("KOMMUNEBOT_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def missing_tools() -> list[str]:
    """Which of the needed programs are not installed (empty when all are)."""
    needed = [str(PG_BIN / "initdb"), str(PG_BIN / "pg_ctl"), "redis-server", "nginx"]
    return [tool for tool in needed if not shutil.which(tool)]


def _run(args: list[str]) -> str:
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({out.returncode}): {out.stderr or out.stdout}")
    return out.stdout


def _as_service_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *args] if os.geteuid() == 0 else args


class Postgres:
    """A throw-away PostgreSQL cluster: user `kommunebot`, trust auth, loopback only."""

    def __init__(self) -> None:
        # Its own folder under /tmp: pytest's tmp_path is private to root, which `nobody` cannot enter.
        self.dir = Path(tempfile.mkdtemp(prefix="kommunebot-pg-"))
        self.port = free_port()
        self.user = "kommunebot"

    def url(self, database: str, driver: str = "postgresql") -> str:
        return f"{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> Postgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "nobody", "nogroup")
        _run(_as_service_user([str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-U", self.user,
                               "--auth=trust", "-E", "UTF8", "--no-sync"]))
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off"
        _run(_as_service_user([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-o", options,
                               "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start"]))
        return self

    def create_database(self, name: str) -> None:
        _run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name])

    def query(self, database: str, sql: str) -> list[str]:
        """Rows of a query, one tab-separated string a row."""
        out = _run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                    "-d", database, "-At", "-F", "\t", "-c", sql])
        return [line for line in out.splitlines() if line]

    def stop(self) -> None:
        subprocess.run(_as_service_user([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                                         "stop"]), capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """redis-server without persistence on a loopback port."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "redis"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> Redis:
        self.dir.mkdir(parents=True)
        self.proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=open(self.dir / "redis.log", "wb"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, 20, "redis-server")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Nginx:
    """nginx as a round-robin load balancer in front of several HTTP servers on loopback."""

    def __init__(self, tmp: Path, upstream_ports: list[int]) -> None:
        self.dir = tmp / "nginx"
        self.port = free_port()
        self.upstream_ports = upstream_ports
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=0;\n" for p in self.upstream_ports)
        d = self.dir
        return (
            "daemon off;\nworker_processes 1;\n"
            f"pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"  access_log {d}/access.log;\n"
            f"  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n"
            f"  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n"
            "  log_format upstream '$request_uri $upstream_addr $status';\n"
            f"  access_log {d}/upstream.log upstream;\n"
            f"  upstream rasa {{\n{servers}  }}\n"
            f"  server {{\n    listen 127.0.0.1:{self.port};\n"
            "    location / {\n      proxy_pass http://rasa;\n      proxy_http_version 1.1;\n"
            "      proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection \"upgrade\";\n"
            "      proxy_read_timeout 120s;\n    }\n  }\n}\n"
        )

    def start(self) -> Nginx:
        self.dir.mkdir(parents=True)
        (self.dir / "nginx.conf").write_text(self.config(), encoding="utf-8")
        self.proc = subprocess.Popen(["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
                                     stdout=open(self.dir / "stdout.log", "wb"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, 20, "nginx")
        return self

    def upstreams_used(self, path_part: str) -> list[str]:
        """The upstream address of each logged request whose URI contains `path_part`, in order."""
        lines = (self.dir / "upstream.log").read_text(encoding="utf-8").splitlines()
        return [line.split()[1] for line in lines if path_part in line.split()[0]]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
