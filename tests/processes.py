"""Real processes for the fault tests: a Redis server and a PostgreSQL cluster of the test's own
(which it may stop and restart, unlike the shared ones), the web app under gunicorn and a Celery
worker, and a small HTTP client with cookies that times every request."""

from __future__ import annotations

import http.cookiejar
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` in a process of its own with this environment, its output captured."""
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def manage_ok(env: dict[str, str], *args: str) -> str:
    """`manage` that must succeed; its standard output."""
    done = manage(env, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def wait_until(check, *, seconds: float, what: str, log=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"Waited {seconds} s for {what}.\n{log()}")


def _stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class OwnRedis:
    """A redis-server on a free port, without persistence: a restart comes back empty, as a
    Redis restarted without its data does."""

    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is not on PATH")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, seconds=20, what="redis-server to answer")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        _stop(self.process)
        self.process = None


class OwnPostgres:
    """A throwaway PostgreSQL cluster on a free port, run by the postgres user (PostgreSQL
    refuses to run as root) in a temporary directory it owns."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.fail(f"PostgreSQL binaries not found in {PG_BIN}")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="own-pg-"))
        self.data = self.dir / "data"
        as_root = os.geteuid() == 0
        self.prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        if as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 - PostgreSQL's own tools, fixed arguments
            [*self.prefix, *args], check=True, capture_output=True, text=True, timeout=120
        )

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N"
        )

    def start(self) -> None:
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            "start",
        )

    def restart(self) -> None:
        # -l again: without it the server writes to pg_ctl's output, which it would hold open.
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-m",
            "fast",
            "-w",
            "restart",
        )

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603
                [
                    *self.prefix,
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.dir, ignore_errors=True)


def app_env(*, database_url: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a web or worker process: the production settings module (the test
    settings would swap the cache for a local one), test-safe secrets and static files, plain
    HTTP cookies, never eager."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "DATABASE_URL"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_TESTING": "1",
            "DJANGO_SECURE_COOKIES": "0",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class Web:
    """The app under gunicorn: one worker process, so every request lands on the same one."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.port = free_port()
        self.log_path = logs / f"gunicorn-{self.port}.log"
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--workers=1",
                f"--bind=127.0.0.1:{self.port}",
                "--timeout=120",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self._up, seconds=60, what="gunicorn to answer", log=self.log)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/login/", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        return self.log_path.read_text()[-4000:]

    def stop(self) -> None:
        _stop(self.process)


class Worker:
    """A Celery worker process on the app's default queue."""

    def __init__(self, env: dict[str, str], logs: Path, *, pool: str = "solo") -> None:
        self.log_path = logs / "worker.log"
        self.env = env
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config.celery_app",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text()[-4000:]

    def stop(self) -> None:
        _stop(self.process)


def celery_call(env: dict[str, str], task: str) -> None:
    """Send one task through the broker, as beat would."""
    subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "celery", "-A", "config.celery_app", "call", task],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )


@dataclass
class Answer:
    status: int
    seconds: float
    body: bytes


class Browser:
    """HTTP with cookies (a logged-in user) or a token; every answer carries its time."""

    def __init__(self, base: str, *, token: str | None = None) -> None:
        self.base = base
        self.token = token
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def request(
        self, path: str, *, form: dict | None = None, json_body: bytes | None = None
    ) -> Answer:
        headers = {"Referer": self.base + path}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookie("csrftoken")
        if json_body is not None:
            data = json_body
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        started = time.monotonic()
        try:
            with self.opener.open(
                urllib.request.Request(self.base + path, data=data, headers=headers),  # noqa: S310
                timeout=60,
            ) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        return Answer(status, time.monotonic() - started, body)

    def login(self, username: str, password: str) -> None:
        self.request("/login/")
        answer = self.request(
            "/login/",
            form={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.cookie("csrftoken"),
            },
        )
        assert answer.status == 302, answer.body[:500]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer of its own (a saved admin form answers 302)."""

    def redirect_request(self, *args, **kwargs):
        return None
