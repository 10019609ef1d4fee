"""Celery tasks for incentives. Each takes ids, re-reads state and is safe to run twice."""

from celery import shared_task

from wecom.client import RateLimited


@shared_task(name="incentives.share_summary_send", ignore_result=True, autoretry_for=(RateLimited,),
             retry_backoff=30, max_retries=3)
def share_summary_send(link_id: int) -> bool:
    """The WeCom app-message summary of one share. A rerun with unchanged numbers sends nothing."""
    from .summary import share_summary_send as send

    return send(link_id=link_id)


@shared_task(name="incentives.share_summaries_send", ignore_result=True)
def share_summaries_send(link_ids: list[int]) -> int:
    """The summaries of the shares whose window ends now (one task per batch of events). Each share is
    sent on its own, so one failing guide does not hold back the others."""
    import logging

    from .summary import share_summary_send as send

    sent = 0
    for link_id in link_ids:
        try:
            sent += send(link_id=link_id)
        except Exception:
            logging.getLogger(__name__).warning("incentives.share_summary_failed", extra={"link_id": link_id},
                                                exc_info=True)
    return sent
