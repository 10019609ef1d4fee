from celery import shared_task

from scrm.health import record_worker_heartbeat


@shared_task(name="scrm.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Idempotent: it only overwrites one timestamp."""
    record_worker_heartbeat()
