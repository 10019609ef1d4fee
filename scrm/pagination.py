"""Pagination that never counts a million-row table on page load."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property


@dataclass
class Page:
    """A page fetched with one extra row to learn whether a next page exists (no COUNT)."""

    items: list
    number: int
    size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def previous_number(self) -> int:
        return self.number - 1


def page_without_count(queryset, *, page: int | str | None, size: int = 20) -> Page:
    try:
        number = max(1, int(page or 1))
    except (TypeError, ValueError):
        number = 1
    offset = (number - 1) * size
    rows = list(queryset[offset:offset + size + 1])
    return Page(items=rows[:size], number=number, size=size, has_next=len(rows) > size)


def estimated_table_rows(table: str) -> int:
    """PostgreSQL's planner estimate of a table's rows (free; exact enough for a paginator)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    return max(0, int(row[0])) if row and row[0] is not None else 0


class EstimatedCountPaginator(Paginator):
    """Admin paginator: exact COUNT for filtered or small tables, the planner's estimate otherwise."""

    exact_limit = 100_000

    @cached_property
    def count(self) -> int:
        query = self.object_list.query
        if not query.where:
            estimate = estimated_table_rows(self.object_list.model._meta.db_table)
            if estimate > self.exact_limit:
                return estimate
        return super().count
