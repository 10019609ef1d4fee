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
    # WeCom reconcile at 02:30 Shanghai: quiet hours for WeCom's limits and our database; it repairs
    # relationships whose callbacks were lost, so once a night bounds how long a miss can last.
    "wecom-reconcile": {"task": "wecom.reconcile_nightly", "schedule": crontab(hour=2, minute=30)},
    # Sync runs left waiting by a rate limit or orphaned by a dead worker continue within 10 minutes.
    "wecom-sync-resume": {"task": "wecom.sync_resume_stalled", "schedule": 600.0},
    # Live-code channel statistics snapshot right after the Shanghai day closes (00:20); it recounts
    # two days, so one missed night is caught up.
    "wecom-channel-stats": {"task": "wecom.channel_stats_refresh", "schedule": crontab(hour=0, minute=20)},
    # Guide tasks for the new Shanghai day at 00:40, after the channel stats; small brands share a job, a
    # large one is split into parts (tasks/tasks.py). Every
    # 10 minutes after that the same dispatch only looks at customers added since the last run, so a
    # new customer's day-0 task appears within minutes; a missed night is caught up by the next run.
    "tasks-generate-nightly": {"task": "tasks.generate_dispatch", "schedule": crontab(hour=0, minute=40)},
    "tasks-generate-new-customers": {"task": "tasks.generate_dispatch", "schedule": 600.0},
    # Group tasks (群任务): hourly at :25, so 00:25 Shanghai issues the new day's tasks (away from the customer
    # tasks at 00:40) and every later run issues new groups' tasks, completes coupon drops from the coupons
    # issued and cancels dismissed groups' tasks: an owner's list is at most an hour behind. Missed runs are
    # caught up while a task's due window is open; a re-run creates nothing.
    "group-tasks-generate": {"task": "community.generate_dispatch", "schedule": crontab(minute=25)},
    # Customer handovers (离职继承): every 5 minutes each open handover polls WeCom's transfer results,
    # submits what is pending and starts handovers whose start was lost; WeCom decides only after 24 h,
    # so 5 minutes is prompt without polling idle pairs often.
    "handover-sweep": {"task": "handover.sweep", "schedule": 300.0},
    # WeCom's own list of resigned members' customers (get_unassigned_list, cursor mode) at 02:50, after
    # the contact reconcile: catches a resignation whose delete_user callback was lost.
    "handover-unassigned-reconcile": {"task": "handover.unassigned_reconcile",
                                      "schedule": crontab(hour=2, minute=50)},
    # Campaign tasks: every 5 minutes each running campaign's claims are measured again from the record (the
    # sidebar says "every 5 minutes"), and guides added to an audience since get its WeCom message.
    "campaigns-live": {"task": "campaigns.live_dispatch", "schedule": 300.0},
    # Ended campaigns are settled (rewards credited once) within 10 minutes after their 30-minute grace.
    "campaigns-settle": {"task": "campaigns.settle_due", "schedule": 600.0},
    # Newbie checklists (新手任务): adds, links and taps update a newbie within seconds; every 15 minutes a
    # catch-up recounts the newbies of each brand that has any, for what has no hook (tasks the engine
    # completed from evidence, reconciled relationships). One job per such brand, a few statements each.
    "newbie-refresh": {"task": "newbie.dispatch", "schedule": crontab(minute="7-59/15")},
    # The Moment step asks WeCom (get_moment_list, one call per newbie still missing it): once a night at
    # 03:10, quiet hours for WeCom's limits; a guide who wants it sooner taps "check" in the sidebar.
    "newbie-moments": {"task": "newbie.dispatch", "schedule": crontab(hour=3, minute=10),
                       "kwargs": {"moments": True}},
}
