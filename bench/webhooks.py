"""Shop webhook throughput: deliveries/s recorded (answered 200) and processed (a purchase, its
buyer and landing touch written by a real Celery worker), over real HTTP.

Starts gunicorn (2 workers) and a Celery worker (2 processes) on the database DATABASE_URL names
(PostgreSQL, migrated; the 1M database of bench/README) with Redis at REDIS_URL as the broker,
sets up a Shopify connector, and posts signed `orders/create` deliveries from client threads:
half for buyers already in the database, half for new ones, each with a landing page tagged
utm_source=ig&utm_campaign=<bench campaign>.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench REDIS_URL=redis://127.0.0.1:6379/14 \
        .venv/bin/python bench/webhooks.py --deliveries 5000

It picks a free port (or --port), counts failed requests and deliveries not processed, and exits
1 if there was any. Its connector (and with it its delivery log) is deleted at the end; the
purchases stay, under external ids `shopify:bench-<run>.myshopify.com:*`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + uuid.uuid4().hex)

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from ingest import free_port, wait_for  # noqa: E402

from campaigns.models import Campaign, Channel  # noqa: E402
from connectors import secrets  # noqa: E402
from connectors.models import Connector, Delivery  # noqa: E402
from connectors.services import connector_create, connector_delete  # noqa: E402
from leads.models import Contact, Purchase  # noqa: E402


def orders(run: str, count: int, known: list[str]) -> list[dict]:
    now = timezone.now().isoformat()
    out = []
    for i in range(count):
        email = known[i // 2 % len(known)] if i % 2 and known else f"{run}-{i}@bench.example"
        out.append(
            {
                "id": 10_000_000 + i,
                "email": email,
                "created_at": now,
                "processed_at": now,
                "currency": "USD",
                "subtotal_price": f"{20 + i % 80}.00",
                "total_tax": "1.50",
                "total_discounts": "0.00",
                "financial_status": "paid",
                "landing_site": f"/?utm_source=ig&utm_campaign=bench-{run}",
                "referring_site": "https://l.instagram.com/",
                "customer": {"email": email, "first_name": "Bench", "last_name": str(i)},
                "name": f"#{i}",
            }
        )
    return out


def post_all(port: int, connector: Connector, secret: str, shop: str, bodies, threads: int):
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(range(len(bodies)))
    path = f"/api/v1/hooks/shopify/{connector.key}/"

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop()
            body = bodies[i]
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Hmac-Sha256": secrets.hmac_base64(secret, body),
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Shop-Domain": shop,
                "X-Shopify-Webhook-Id": f"bench-{i}",
            }
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(f"delivery {i}: {type(exc).__name__}: {exc}")
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            if response.status != 200:
                with lock:
                    errors.append(f"delivery {i}: {response.status} {raw[:200]!r}")

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--port", type=int, default=0, help="Default: a free one.")
    parser.add_argument(
        "--timeout", type=float, default=1800, help="Seconds to wait for processing."
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        raise SystemExit("Run it on PostgreSQL with a broker: set DATABASE_URL and REDIS_URL.")

    run = uuid.uuid4().hex[:8]
    shop = f"bench-{run}.myshopify.com"
    secret = secrets.new_secret()
    connector, _ = connector_create(
        kind="shopify", name=f"bench {run}", account=shop, secret=secret
    )
    Campaign.objects.create(
        name=f"Bench {run}",
        channel=Channel.objects.get(slug="instagram"),
        objective="sales",
        starts_on=timezone.localdate(),
        budget=0,
        utm_campaign=f"bench-{run}",
    )
    known = list(
        Contact.objects.exclude(email="")
        .order_by("?")
        .values_list("email", flat=True)[: max(1, args.deliveries // 2)]
    )
    bodies = [json.dumps(order).encode() for order in orders(run, args.deliveries, known)]
    contacts_before = Contact.objects.count()

    port = args.port or free_port()
    env = {**os.environ, "DJANGO_DEBUG": "0", "LOG_LEVEL": "WARNING"}
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
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen(  # noqa: S603 - our own worker, fixed arguments
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "config",
            "worker",
            "-c",
            "2",
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"bench-{run}@%h",
        ],
        cwd=ROOT,
        env=env,
    )
    errors: list[str] = []
    try:
        wait_for(port)
        started = time.perf_counter()
        errors += post_all(port, connector, secret, shop, bodies, args.threads)
        recorded_in = time.perf_counter() - started
        deliveries = Delivery.objects.filter(connector=connector)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            if not deliveries.filter(status__in=["received", "processing"]).exists():
                break
            time.sleep(0.5)
        processed_in = time.perf_counter() - started
        outcome = dict(deliveries.values_list("status").annotate(n=django.db.models.Count("id")))
    finally:
        server.terminate()
        worker.terminate()
        server.wait(timeout=30)
        worker.wait(timeout=60)
    purchases = Purchase.objects.filter(external_id__startswith=f"shopify:{shop}:").count()
    new_contacts = Contact.objects.count() - contacts_before
    for status, count in outcome.items():
        if status != "processed":
            errors.append(f"{count} deliveries {status}")
    if purchases != args.deliveries:
        errors.append(f"{purchases} purchases written for {args.deliveries} orders")
    connector_delete(connector=connector)

    print(f"contacts in the database:  {contacts_before:,}")
    print(
        f"recorded (answered 200):   {args.deliveries / recorded_in:,.0f} deliveries/s "
        f"({args.deliveries:,} in {recorded_in:.1f} s, {args.threads} client threads, "
        "gunicorn -w 2)"
    )
    print(
        f"processed (purchase, buyer, touch written): {args.deliveries / processed_in:,.0f} "
        f"deliveries/s ({processed_in:.1f} s from the first post, celery -c 2)"
    )
    print(f"purchases written: {purchases:,}; new buyers: {new_contacts:,}")
    # A rate measured while deliveries failed measures nothing: count them and fail.
    print(f"errors: {len(errors)}")
    for error in errors[:5]:
        print(f"  {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
