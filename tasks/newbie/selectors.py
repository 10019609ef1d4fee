"""Reads for the newbie checklist: a guide's own checklist (sidebar "today") and a brand's newbies (brand
dashboard). Progress rows are public; every read here is filtered by the guide or by the brand's guides."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from guides.models import Guide, GuideStatus

from .models import NewbieProgress, NewbieStep
from .services import is_newbie, newbie_days, newbie_since

BRAND_ROWS = 200


@dataclass
class StepView:
    id: int
    key: str
    title: str
    title_en: str
    hint: str
    evidence: str
    target: int
    count: int
    done: bool
    reward_coins: int
    reward_exp: int
    is_next: bool = False
    number: int = 0

    @property
    def shown_count(self) -> int:
        return self.target if self.done else min(self.count, self.target)


@dataclass
class Checklist:
    steps: list[StepView]
    done: int
    total: int
    coins_earned: int
    coins_total: int
    exp_earned: int
    days_left: int
    next_step: StepView | None = None

    @property
    def complete(self) -> bool:
        return self.done >= self.total

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def _days_left(guide: Guide, today: dt.date) -> int:
    return max(0, (guide.hired_on + dt.timedelta(days=newbie_days()) - today).days)


def guide_checklist(*, guide: Guide) -> Checklist | None:
    """The signed-in guide's checklist, or None when they are not a newbie (no query then) or the mall has
    no active steps. Two queries: the steps, and this guide's progress rows."""
    today = timezone.localdate()
    if not is_newbie(guide, today):
        return None
    steps = list(NewbieStep.objects.filter(is_active=True).order_by("position", "id"))
    if not steps:
        return None
    rows = {p.step_id: p for p in NewbieProgress.objects.filter(guide_id=guide.pk, step__in=steps)}
    views, coins_earned, coins_total, exp_earned = [], 0, 0, 0
    for number, step in enumerate(steps, start=1):
        row = rows.get(step.pk)
        done = bool(row and row.done_at)
        coins = row.reward_coins if done else step.reward_coins
        exp = row.reward_exp if done else step.reward_exp
        coins_total += coins
        if done and row.reward_credited_at:
            coins_earned += row.reward_coins
            exp_earned += row.reward_exp
        views.append(StepView(id=step.pk, key=step.key, title=step.title, title_en=step.title_en, hint=step.hint,
                              evidence=step.evidence, target=step.target, count=row.count if row else 0, done=done,
                              reward_coins=coins, reward_exp=exp, number=number))
    next_step = next((v for v in views if not v.done), None)
    if next_step:
        next_step.is_next = True
    return Checklist(steps=views, done=sum(v.done for v in views), total=len(views), coins_earned=coins_earned,
                     coins_total=coins_total, exp_earned=exp_earned, days_left=_days_left(guide, today),
                     next_step=next_step)


def brand_newbies(*, brand) -> dict:
    """This brand's newbies (hired within the newbie period, active), newest hires first, with which steps
    each has done and the coins earned. Three queries whatever the number of guides."""
    today = timezone.localdate()
    steps = list(NewbieStep.objects.filter(is_active=True).order_by("position", "id"))
    guides = list(Guide.objects.filter(brand=brand, status=GuideStatus.ACTIVE, hired_on__gte=newbie_since(today))
                  .select_related("counter__store").order_by("-hired_on", "name")[:BRAND_ROWS])
    done: dict[int, set[int]] = {}
    coins: dict[int, int] = {}
    for guide_id, step_id, reward, credited in (NewbieProgress.objects
                                                 .filter(guide__in=guides, done_at__isnull=False)
                                                 .values_list("guide_id", "step_id", "reward_coins",
                                                              "reward_credited_at")):
        done.setdefault(guide_id, set()).add(step_id)
        if credited:
            coins[guide_id] = coins.get(guide_id, 0) + reward
    rows = []
    for guide in guides:
        mine = done.get(guide.pk, set())
        marks = [s.pk in mine for s in steps]
        next_step = next((s for s in steps if s.pk not in mine), None)
        rows.append({"guide": guide, "marks": marks, "done": sum(marks), "total": len(steps),
                     "percent": round(100 * sum(marks) / len(steps)) if steps else 0,
                     "coins": coins.get(guide.pk, 0), "next_step": next_step,
                     "days_left": _days_left(guide, today)})
    return {"newbie_steps": steps, "newbies": rows, "newbie_days": newbie_days()}
