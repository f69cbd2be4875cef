"""Events per second through POST /api/v1/events/ over real HTTP, beside raw bulk_create.

Starts gunicorn (2 workers) on the database DATABASE_URL names (PostgreSQL; it must be migrated
and is written to), sends batches of 1,000 mixed events (new contacts, touches, a few purchases)
from client threads, then inserts the same number of rows with bulk_create in this process and
prints both rates and their ratio.

    createdb -h 127.0.0.1 -U postgres roi_ingest
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_ingest .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_ingest .venv/bin/python bench/ingest.py --batches 20

It picks a free port (or --port), counts the failed requests and event errors, and exits 1
if there was any.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + uuid.uuid4().hex)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.services import api_key_create, api_key_revoke  # noqa: E402
from campaigns.models import Channel  # noqa: E402
from leads.models import Contact, StageChange, Touchpoint  # noqa: E402


def batch_events(run: str, batch: int, size: int) -> list[dict]:
    """Per 10 events: 3 new contacts, 6 touches on them, 1 purchase."""
    events = []
    for i in range(size // 10):
        base = f"{run}-{batch}-{i}"
        for j in range(3):
            events.append(
                {
                    "type": "contact",
                    "external_id": f"c-{base}-{j}",
                    "email": f"{base}-{j}@bench.example",
                    "utm_source": "ig",
                    "entered_at": "2026-03-01T10:00:00Z",
                }
            )
        for j in range(6):
            events.append(
                {
                    "type": "touch",
                    "external_id": f"t-{base}-{j}",
                    "email": f"{base}-{j % 3}@bench.example",
                    "channel": "instagram",
                    "kind": "click",
                    "occurred_at": "2026-03-02T10:00:00Z",
                }
            )
        events.append(
            {
                "type": "purchase",
                "external_id": f"p-{base}",
                "email": f"{base}-0@bench.example",
                "amount": "25.00",
                "occurred_at": "2026-03-03T10:00:00Z",
            }
        )
    return events


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/channels/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def free_port() -> int:
    """A port nothing listens on now (the OS picks it), so two runs never collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_rate(
    port: int, token: str, batches: int, size: int, threads: int
) -> tuple[float, list[str]]:
    run = uuid.uuid4().hex[:8]
    payloads = [json.dumps({"events": batch_events(run, b, size)}) for b in range(batches)]
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(range(batches))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    return
                b = queue.pop()
            try:
                conn.request(
                    "POST",
                    "/api/v1/events/",
                    payloads[b],
                    {"Authorization": f"Token {token}", "Content-Type": "application/json"},
                )
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(f"batch {b}: {type(exc).__name__}: {exc}")
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            if response.status != 200 or body.get("errors"):
                with lock:
                    errors.append(f"batch {b}: {response.status} {body.get('errors', raw[:200])}")

    workers = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return batches * size / elapsed, errors


def raw_rate(total: int) -> float:
    """The same rows (contacts with their entry history, touches, purchases' share as touches)
    straight through bulk_create: the ceiling the HTTP path is compared with."""
    channel = Channel.objects.get(slug="instagram")
    run = uuid.uuid4().hex[:8]
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(
            [
                Contact(
                    email=f"raw-{run}-{i}@bench.example", source_channel=channel, entered_at=now
                )
                for i in range(total * 3 // 10)
            ],
            batch_size=2000,
        )
        StageChange.objects.bulk_create(
            [
                StageChange(contact=c, from_stage="", to_stage="follower", at=now, via="api")
                for c in contacts
            ],
            batch_size=2000,
        )
        Touchpoint.objects.bulk_create(
            [
                Touchpoint(
                    contact=contacts[i % len(contacts)],
                    channel=channel,
                    kind="click",
                    occurred_at=now,
                )
                for i in range(total * 7 // 10)
            ],
            batch_size=2000,
        )
    return total / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=0, help="Default: a free one.")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run it on PostgreSQL: set DATABASE_URL.")

    user, _ = User.objects.get_or_create(username="bench-ingest")
    user.groups.add(Group.objects.get(name="Integration"))
    api_key, token = api_key_create(user=user, name="bench/ingest.py")
    port = args.port or free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "API_THROTTLE_RATE": "100000000/hour",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "300",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(port)
        http_events, errors = http_rate(port, token, args.batches, args.size, args.threads)
    finally:
        server.terminate()
        server.wait(timeout=30)
        api_key_revoke(api_key=api_key)  # one key per run, dead once the run is over
    raw = raw_rate(args.batches * args.size)
    print(
        f"HTTP batch endpoint: {http_events:,.0f} events/s "
        f"({args.batches} batches of {args.size}, {args.threads} client threads, gunicorn -w 2)"
    )
    print(f"raw bulk_create:     {raw:,.0f} rows/s")
    print(f"ratio:               {http_events / raw:.3f}")
    # A rate measured while requests failed measures nothing: count them and fail.
    print(f"errors:              {len(errors)}")
    for error in errors[:5]:
        print(f"  {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
