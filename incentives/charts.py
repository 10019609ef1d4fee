"""Small charts drawn on the server as inline SVG (no JavaScript, nothing fetched from elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

ROW = 26
LABEL_W = 150
BAR_W = 420
VALUE_W = 110


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown, e.g. "¥3,000.00"
    strong: bool = False  # drawn in the accent colour (e.g. the top three)


def _short(label: str, limit: int = 12) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def bar_chart(*, bars: list[Bar], title: str, colour: str = "#b3123f", soft: str = "#e7a3b6") -> SafeString:
    """Horizontal bars, one row per item, scaled to the largest value; negative values draw no bar."""
    if not bars:
        return SafeString("")
    top = max((bar.value for bar in bars), default=0) or 1
    height = ROW * len(bars) + 8
    width = LABEL_W + BAR_W + VALUE_W
    rows = []
    for index, bar in enumerate(bars):
        y = 4 + index * ROW
        length = max(0.0, BAR_W * bar.value / top)
        rows.append((y + ROW / 2 + 4, LABEL_W - 8, _short(bar.label), LABEL_W, y + 4, f"{length:.1f}", ROW - 8,
                     colour if bar.strong else soft, LABEL_W + length + 6, y + ROW / 2 + 4, bar.text, bar.label,
                     bar.text))
    body = format_html_join(
        "", '<g><text x="{1}" y="{0}" text-anchor="end">{2}</text>'
            '<rect x="{3}" y="{4}" width="{5}" height="{6}" rx="3" fill="{7}"><title>{11}: {12}</title></rect>'
            '<text x="{8}" y="{9}" class="v">{10}</text></g>',
        rows)
    return format_html(
        '<svg class="bar-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" '
        'style="max-width:{}px;font:12px system-ui,-apple-system,\'PingFang SC\',\'Microsoft YaHei\',sans-serif">'
        '<title>{}</title><style>.v{{fill:#4a5568;font-variant-numeric:tabular-nums}}</style>{}</svg>',
        title, width, height, width, title, body)


# --------------------------------------------------------------------------- staff leaderboards (dashboard, admin)

def board_choices(query, *, default_period: str = "month") -> dict:
    """Metric and period from a query string; anything unknown falls back to sales this month."""
    from . import leaderboards

    metric, period = query.get("metric", "sales"), query.get("period", default_period)
    return {"metric": metric if metric in leaderboards.METRICS else "sales",
            "period": period if period in leaderboards.PERIODS else default_period}


def board_display(board) -> tuple[list[dict], SafeString]:
    """Table rows and the SVG chart of a staff board (the top three in the accent colour)."""
    from . import leaderboards

    def text(row):
        return leaderboards.score_text(board.metric, row.score)

    rows = [{"rank": r.rank, "name": r.name, "brand": r.brand, "counter": r.counter, "value": text(r)}
            for r in board.rows]
    chart = bar_chart(bars=[Bar(label=f"{r.rank}. {r.name}", value=r.score, text=text(r), strong=r.rank <= 3)
                            for r in board.rows],
                      title=f"{leaderboards.METRICS[board.metric]} · {leaderboards.PERIODS[board.period]}")
    return rows, chart
