"""The API's documentation: a summary on every operation, real examples, and a docs page that
sends a logged-out person to the login page (issue 11)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from tests.api.test_schemathesis import app_schema
from tests.factories import UserFactory

METHODS = {"get", "post", "put", "patch", "delete"}


def test_every_operation_has_a_summary():
    schema = app_schema()
    operations = [
        (method.upper(), path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]
    assert operations
    missing = [f"{m} {p}" for m, p, op in operations if not op.get("summary", "").strip()]
    assert missing == []


def test_the_events_200_example_is_a_response_and_the_request_example_a_request():
    post = app_schema()["paths"]["/api/v1/events/"]["post"]
    request_examples = post["requestBody"]["content"]["application/json"]["examples"]
    response_examples = post["responses"]["200"]["content"]["application/json"]["examples"]
    assert [set(e["value"]) for e in request_examples.values()] == [{"events"}]
    (response,) = [e["value"] for e in response_examples.values()]
    assert set(response) == {"results", "created", "unchanged", "errors"}
    (request,) = [e["value"] for e in request_examples.values()]
    # One result per event of the request example, in order, with the fields a result has.
    assert [r["index"] for r in response["results"]] == list(range(len(request["events"])))
    assert [r["type"] for r in response["results"]] == [e["type"] for e in request["events"]]
    assert [r["external_id"] for r in response["results"]] == [
        e.get("external_id") for e in request["events"]
    ]
    for result in response["results"]:
        assert {"index", "type", "external_id", "status", "id", "code"} <= set(result)
    counts = {
        s: sum(r["status"] == s for r in response["results"])
        for s in ("created", "unchanged", "error")
    }
    assert (response["created"], response["unchanged"], response["errors"]) == (
        counts["created"],
        counts["unchanged"],
        counts["error"],
    )


@pytest.mark.django_db
def test_logged_out_the_docs_page_redirects_to_the_login_page(client):
    url = reverse("api-docs")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.django_db
def test_logged_out_the_schema_still_answers_401(client):
    response = client.get(reverse("api-schema"))
    assert response.status_code == 401


def test_logged_in_the_docs_page_is_served(admin_client):
    response = admin_client.get(reverse("api-docs"))
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


# docs/api.md, step 1: the commands work from a fresh terminal.

ROOT = Path(__file__).resolve().parents[2]


def step_one() -> str:
    text = (ROOT / "docs" / "api.md").read_text()
    section = text[text.index("### 1. Make API keys") : text.index("### 2.")]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_step_one_sets_what_manage_py_needs_before_running_it(tmp_path):
    # Only the lines before the first manage.py, in an environment as bare as a new terminal's
    # (no DJANGO_SECRET_KEY, no DJANGO_DEBUG), then the check manage.py would fail on first.
    block = step_one()
    setup = block[: block.index(".venv/bin/python manage.py")]
    assert "export DJANGO_DEBUG=1" in setup
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATA_DIR": str(tmp_path)}
    bash = shutil.which("bash")
    bare = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [bash, "-c", ".venv/bin/python manage.py check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "DJANGO_SECRET_KEY is not set" in bare.stderr  # what the issue saw
    done = subprocess.run(  # noqa: S603 - the documentation's own lines
        [bash, "-c", f"set -e\n{setup}\n.venv/bin/python manage.py check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.django_db
def test_step_one_python_parts_make_keys_that_work():
    UserFactory(username="marketing", groups=["Marketing"], is_staff=True)  # a demo login
    block = step_one()
    # The shell -c program, run as manage.py shell would.
    program = re.search(r'manage\.py shell -c "(.*?)"', block, re.S).group(1)
    exec(program, {})  # noqa: S102 - our own documentation
    keys = {}
    for variable, command in re.findall(
        r"^(\w+)=\$\(\.venv/bin/python manage\.py (.*)\)$", block, re.M
    ):
        out = StringIO()
        call_command(*shlex.split(command), stdout=out)
        keys[variable] = out.getvalue().strip()
    assert set(keys) == {"SHOP", "MKT"}
    api = APIClient()
    shop = api.get("/api/v1/contacts/", HTTP_AUTHORIZATION=f"Token {keys['SHOP']}")
    assert shop.status_code == 200
    marketing = api.get("/api/v1/campaigns/", HTTP_AUTHORIZATION=f"Token {keys['MKT']}")
    assert marketing.status_code == 200
