"""Celery tasks of the campaigns app: thin (an id in, a service call)."""

from __future__ import annotations

from celery import shared_task

from campaigns import services


@shared_task(ignore_result=True)
def run_import(job_id: int) -> None:
    """Run one import job started in the admin (a no-op when another worker has it)."""
    services.import_job_run(job_id=job_id)
