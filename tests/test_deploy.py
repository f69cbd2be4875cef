"""docs/deploy.md's recipe, run as written with DEBUG off, in subprocesses.

With the production variables of docs/deploy/social-roi.env (only the secret, the database,
Redis and the data directory swapped for throwaway ones): `collectstatic` succeeds, `check
--deploy --fail-level WARNING` is clean, and gunicorn, behind what a TLS proxy would send,
serves the login page, logs a user in, serves a hashed static file with long cache headers and
the health endpoints, and every HTML response carries the Content-Security-Policy.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.processes import manage

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / "docs" / "deploy" / "social-roi.env"
VENV_BIN = Path(sys.executable).parent
HOST = "roi.example.com"
PASSWORD = "a-long-deploy-test-password-7"


def documented_environment() -> dict[str, str]:
    """The variables of docs/deploy/social-roi.env, as a systemd EnvironmentFile reads them."""
    variables = {}
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            variables[name.strip()] = value.strip()
    return variables


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def production_env(tmp_path_factory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("deploy-data")
    documented = documented_environment()
    # The recipe's file is a template: these are the CHANGE-ME values and the services.
    documented.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{data_dir / 'db.sqlite3'}",
        DATA_DIR=str(data_dir),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
    )
    del documented["REDIS_URL"]  # no Redis here: tasks run in-process, readiness says "disabled"
    assert documented["DJANGO_ALLOWED_HOSTS"] == HOST
    assert "CHANGE-ME" not in "".join(documented.values())
    env = {
        name: value
        for name, value in os.environ.items()
        # The test run's own switches would turn production behaviour off.
        if not name.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "DATA_DIR"))
    }
    env.update(documented)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return env


@pytest.fixture(scope="module")
def installed(production_env) -> dict[str, str]:
    """migrate, collectstatic and a login, as docs/deploy.md's first start does them."""
    for args in (
        ("migrate", "--noinput"),
        ("collectstatic", "--noinput"),
        ("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"),
    ):
        env = {**production_env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
        result = manage(env, *args)
        assert result.returncode == 0, f"{args[0]}:\n{result.stdout}\n{result.stderr}"
    return production_env


@pytest.fixture(scope="module")
def gunicorn(installed) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - the project's own gunicorn
        [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
        ],
        cwd=ROOT,
        env=installed,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers are stopped with it
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{output}")
            try:
                if request(port, "/health/live/", proxied=False).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not answer within 30 s")
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout:
            process.stdout.close()


class Reply:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def cookies(self) -> SimpleCookie:
        jar: SimpleCookie = SimpleCookie()
        for header in self.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        return jar


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    proxied: bool = True,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> Reply:
    """One request to gunicorn; `proxied` adds what the TLS proxy in front adds."""
    sent = {"Host": HOST if proxied else f"127.0.0.1:{port}", **(headers or {})}
    if proxied:
        sent["X-Forwarded-Proto"] = "https"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=sent)
        return Reply(connection.getresponse())
    finally:
        connection.close()


def assert_csp(reply: Reply) -> None:
    policy = reply.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy


def test_collectstatic_wrote_a_manifest_with_hashed_names(installed):
    manifest = json.loads(
        (Path(installed["DATA_DIR"]) / "static" / "staticfiles.json").read_text(encoding="utf-8")
    )
    hashed = manifest["paths"]["reports/vendor/chart.umd.min.js"]
    assert re.fullmatch(r"reports/vendor/chart\.umd\.min\.[0-9a-f]{12}\.js", hashed)


def test_check_deploy_is_clean(installed):
    result = manage(installed, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_over_plain_http_settings(installed):
    # The check really judges the variables: the local-trial escape hatch is reported.
    result = manage(
        {**installed, "DJANGO_SECURE_COOKIES": "0"}, "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 1
    assert "security.W012" in result.stderr
    assert "security.W016" in result.stderr


def test_plain_http_is_sent_to_https_except_the_probes(gunicorn):
    redirect = request(gunicorn, "/login/", proxied=False, headers={"Host": HOST})
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"https://{HOST}/login/"
    for path in ("/health/live/", "/health/ready/"):
        assert request(gunicorn, path, proxied=False).status == 200


def test_health_endpoints(gunicorn):
    live = request(gunicorn, "/health/live/", proxied=False)
    assert json.loads(live.body) == {"status": "ok"}
    assert "no-store" in live.headers["Cache-Control"]
    ready = request(gunicorn, "/health/ready/", proxied=False)
    body = json.loads(ready.body)
    assert ready.status == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"] == {"status": "disabled"}
    assert "no-store" in ready.headers["Cache-Control"]


def test_login_page_over_tls_with_hardened_headers(gunicorn):
    reply = request(gunicorn, "/login/")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert_csp(reply)
    assert reply.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.cookies()["csrftoken"]["secure"]


def test_a_hashed_static_file_is_cached_for_a_year(gunicorn):
    login = request(gunicorn, "/login/").body.decode()
    stylesheet = re.search(r'href="(/static/reports/reports\.[0-9a-f]{12}\.css)"', login).group(1)
    reply = request(gunicorn, stylesheet)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/css")
    cache_control = reply.headers["Cache-Control"]
    assert "immutable" in cache_control
    assert int(re.search(r"max-age=(\d+)", cache_control).group(1)) >= 365 * 24 * 3600
    assert b"narrow-login" in reply.body


def test_a_user_logs_in_behind_the_proxy_and_every_page_has_the_policy(gunicorn):
    # Over TLS (as the proxy reports it) the Secure cookies come back and the CSRF check,
    # which compares the Referer with the host on HTTPS, passes.
    form = request(gunicorn, "/login/")
    csrf_cookie = form.cookies()["csrftoken"].value
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body).group(1)
    login = request(
        gunicorn,
        "/login/",
        method="POST",
        headers={
            "Cookie": f"csrftoken={csrf_cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"https://{HOST}/login/",
            "Origin": f"https://{HOST}",
        },
        body=urlencode(
            {
                "csrfmiddlewaretoken": token.decode(),
                "username": "admin",
                "password": PASSWORD,
                "next": "/reports/",
            }
        ),
    )
    assert login.status == 302, login.body[:2000]
    assert login.headers["Location"] == "/reports/"
    session = login.cookies()["sessionid"]
    assert session["secure"]
    assert session["httponly"]
    cookie = f"sessionid={session.value}; csrftoken={csrf_cookie}"
    for path in (
        "/reports/",
        "/reports/attribution/",
        "/admin/",
        "/admin/leads/contact/",
        "/api/docs/",
    ):
        reply = request(gunicorn, path, headers={"Cookie": cookie})
        assert reply.status == 200, path
        assert reply.headers["Content-Type"].startswith("text/html"), path
        assert_csp(reply)
    missing = request(gunicorn, "/no-such-page/", headers={"Cookie": cookie})
    assert missing.status == 404
    assert_csp(missing)
