"""Every periodic job in one place, each with the reason for its cadence."""

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
    # Proves to /healthz that beat and at least one worker are alive; 10 s keeps the
    # health answer fresh without noticeable load.
    "worker-heartbeat": {"task": "scrm.heartbeat", "schedule": 10.0},
    # Points lots expire at the end of their day; running hourly keeps balances honest
    # within the hour while each run only touches the lots that are due.
    "points-expire": {"task": "members.points_expire_due", "schedule": crontab(minute=5)},
    # Tiers follow rolling 12-month points: once a night (03:30, quiet hours) re-check the members
    # whose points just left the window; a 2-day band covers one missed night.
    "tiers-reevaluate": {"task": "members.tiers_reevaluate_window", "schedule": crontab(hour=3, minute=30)},
    # WeCom callbacks that no worker picked up (Redis or workers were down): every 30 s, so an
    # event is processed at most ~45 s late once things are back, and none is ever lost.
    "wecom-inbox-sweep": {"task": "wecom.inbox_sweep", "schedule": 30.0},
    # Coupons past their validity become "expired" (the funnel's last state); hourly is enough.
    "coupons-expire": {"task": "members.coupons_expire_due", "schedule": crontab(minute=15)},
}
