"""Celery tasks of the connectors: thin (an id in, a service call)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from connectors import services


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def process_delivery(delivery_id: int) -> None:
    """Process one recorded delivery (a no-op when another worker has it, or it is gone)."""
    services.delivery_process(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def sweep_deliveries() -> int:
    """Queue again deliveries whose task was lost (a broker outage, a killed worker)."""
    return services.deliveries_sweep()


@shared_task(ignore_result=True)
def purge_deliveries() -> int:
    """Delete the delivery log older than 30 days."""
    return services.deliveries_purge()
