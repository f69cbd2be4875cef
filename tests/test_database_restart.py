"""PostgreSQL restarts under a running web process: its next requests still answer.

The web process keeps its database connection between requests (`DB_CONN_MAX_AGE`); a restart
closes it on the server's side. Without health checks the first request of each process used
the dead connection and answered 500; with `CONN_HEALTH_CHECKS` the connection is checked
before reuse and replaced. A throwaway cluster of the test's own is restarted (the shared
server never is), under a real gunicorn process.
"""

from __future__ import annotations

import pytest

from tests.processes import Browser, OwnPostgres, Web, app_env, manage_ok

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster():
    server = OwnPostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


def test_the_web_process_answers_after_a_database_restart(cluster, tmp_path, capsys):
    cluster.create_database("social_roi")
    env = app_env(database_url=cluster.url("social_roi"), redis_url=None, DB_CONN_MAX_AGE="600")
    manage_ok(env, "migrate", "--noinput")
    manage_ok(
        env,
        "shell",
        "-c",
        "from tests.factories import UserFactory; UserFactory(username='root', is_superuser=True)",
    )
    token = manage_ok(env, "create_api_key", "root", "--name", "probe").split()[-1]
    web = Web(env, tmp_path)
    try:
        api = Browser(web.base, token=token)
        before = [api.request("/api/v1/channels/").status for _ in range(3)]
        assert before == [200, 200, 200], web.log()

        cluster.restart()
        after = [api.request("/api/v1/channels/").status for _ in range(5)]
    finally:
        web.stop()
    with capsys.disabled():
        print(f"\nDatabase restart: before {before}, after {after} (same web process)")
    assert after == [200] * 5, web.log()
