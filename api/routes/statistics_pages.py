"""The public dashboard 统计：少交了多少纸质证明 (`/statistics`), in Chinese: the figures of
`GET /api/v1/statistics` (the same `api.presenters.statistics_view`) with two charts drawn here as inline SVG,
so the page needs no script and nothing from outside the city's network:

- paper proofs saved per month (one bar per month);
- how each matter's proofs were settled (one stacked bar per matter: 数据共享, 电子证照, 告知承诺,
  直接取消, 部门核查, 仍需材料);

and the license library's figures per license type (`GET /api/v1/statistics/licenses`, the same
`license_statistics`): licenses held, times used and paper copies avoided, per matter.

Each chart has a title and a table with the same numbers as its text alternative; the detail
table gives every figure per matter, handling department and month. Filters are a GET form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from math import ceil
from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, make_response, render_template, request

from api.live_catalog import live_catalog
from api.presenters import counted_headers, counted_statistics, statistics_view
from api.schemas.statistics import StatisticsQuerySchema
from catalog.city_time import BEIJING, format_date_zh
from exchange.errors import UnknownCode
from exchange.licenses.statistics import license_statistics

bp = Blueprint("statistics_pages", __name__)

FILTERS_ZH = {"matter": "事项", "department": "办理部门", "from": "起始月份", "to": "截止月份"}
"""The form's fields (the API's query parameters) as the page names them."""
SEGMENTS = (("saved_by_data", "数据共享", "data"), ("saved_by_e_license", "电子证照", "e-license"),
            ("saved_by_commitment", "告知承诺", "commitment"), ("saved_by_abolition", "直接取消", "abolition"),
            ("saved_by_investigation", "部门核查", "investigation"), ("still_needing_paper", "仍需材料", "paper"))
"""The stacked bar of a matter: figure, label, CSS class suffix; they add up to proofs_required."""

CHART_WIDTH = 760
MONTH_CHART_HEIGHT = 260
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 56, 12, 24, 40
MATTER_LABEL_WIDTH = 210
MATTER_ROW_HEIGHT = 34
MATTER_BAR_HEIGHT = 22
MATTER_TOTAL_WIDTH = 56


@dataclass(frozen=True)
class Tick:
    value: int
    position: float


@dataclass(frozen=True)
class MonthBar:
    month: str
    value: int
    x: float
    y: float
    width: float
    height: float
    labelled: bool
    """Whether the month is written under the bar (every bar while they fit, else every n-th)."""

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class MonthChart:
    width: int
    height: int
    left: int
    right: int
    baseline: float
    bars: list[MonthBar]
    ticks: list[Tick]


@dataclass(frozen=True)
class Segment:
    label: str
    kind: str
    value: int
    x: float
    width: float


@dataclass(frozen=True)
class MatterBar:
    matter: str
    name_zh: str
    y: float
    segments: list[Segment]
    """Only the categories with at least one proof, left to right in the order of SEGMENTS."""
    total: int
    end: float


@dataclass(frozen=True)
class MatterChart:
    width: int
    height: int
    label_right: int
    """Where the matters' names end, right-aligned before their bars."""
    bar_height: int
    bars: list[MatterBar]


@bp.route("/statistics")
def statistics_page() -> Response:
    """The dashboard for the filters in the query string; wrong filters: the form with a message, 400."""
    catalog = live_catalog().catalog
    counted = counted_statistics()
    form = {name: request.args.get(name, "").strip()[:64] for name in FILTERS_ZH}
    view: dict[str, Any] | None = None
    error: str | None = None
    try:
        view = statistics_view(counted, StatisticsQuerySchema().load(
            {name: value for name, value in form.items() if value}))
    except ma.ValidationError as invalid:
        error = _error_zh(invalid.messages_dict)
    except UnknownCode as unknown:
        error = _error_zh({unknown.field: unknown.detail})
    by_matter = view["matters"] if view else []
    handling = sorted({code for matter in catalog.matters.values() for code in matter.consumers})
    page = render_template(
        "statistics.html", form=form, error=error, view=view,
        matters=[(code, matter.name_zh) for code, matter in catalog.matters.items()],
        departments=[(code, catalog.departments[code].name_zh) for code in handling if code in catalog.departments],
        segments=SEGMENTS, duration_zh=duration_zh, share=share,
        by_matter=by_matter, month_chart=month_chart(view["months"]) if by_matter else None,
        matter_chart=matter_chart(by_matter) if by_matter else None,
        licenses=license_statistics(counted.licenses, catalog),
        counted_at=counted_at_zh(counted.counted_at),
        matter_names={code: m.name_zh for code, m in catalog.matters.items()},
    )
    response = make_response(page)
    response.status_code = 400 if error else 200
    response.headers.update(counted_headers(counted))
    return response


def month_chart(months: Sequence[Mapping[str, Any]]) -> MonthChart:
    """One bar per month, its height the paper proofs saved; a value axis of round ticks."""
    step, top = _axis(max(month["paper_saved"] for month in months))
    plot_width = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_height = MONTH_CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    baseline = PLOT_TOP + plot_height
    slot = plot_width / len(months)
    label_every = ceil(len(months) / (plot_width // 64))
    bars = []
    for index, month in enumerate(months):
        height = plot_height * month["paper_saved"] / top
        bars.append(MonthBar(month=str(month["month"]), value=month["paper_saved"], x=PLOT_LEFT + slot * (index + 0.15),
                             y=baseline - height, width=slot * 0.7, height=height,
                             labelled=index % label_every == 0))
    ticks = [Tick(value, baseline - plot_height * value / top) for value in range(0, top + 1, step)]
    return MonthChart(CHART_WIDTH, MONTH_CHART_HEIGHT, PLOT_LEFT, CHART_WIDTH - PLOT_RIGHT, baseline, bars, ticks)


def matter_chart(matters: Sequence[Mapping[str, Any]]) -> MatterChart:
    """One horizontal bar per matter, as long as its required proofs, split by how they were settled."""
    longest = max(max(matter["proofs_required"] for matter in matters), 1)
    scale = (CHART_WIDTH - MATTER_LABEL_WIDTH - MATTER_TOTAL_WIDTH) / longest
    bars = []
    for index, matter in enumerate(matters):
        x = float(MATTER_LABEL_WIDTH)
        segments = []
        for figure, label, kind in SEGMENTS:
            if matter[figure]:
                segments.append(Segment(label, kind, matter[figure], x, matter[figure] * scale))
                x += matter[figure] * scale
        bars.append(MatterBar(matter["matter"], matter["matter_name_zh"], index * MATTER_ROW_HEIGHT + 6, segments,
                              matter["proofs_required"], x))
    return MatterChart(CHART_WIDTH, len(matters) * MATTER_ROW_HEIGHT + 12, MATTER_LABEL_WIDTH - 8, MATTER_BAR_HEIGHT,
                       bars)


def duration_zh(seconds: float | None) -> str:
    """A handling time in Chinese units, to the second: 3 天 4 小时, 2 小时 5 分, 5 分 12 秒, 不到 1 秒."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 1:
        return "不到 1 秒"
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {minutes} 分"
    return f"{minutes} 分 {secs} 秒" if minutes else f"{secs} 秒"


def counted_at_zh(moment: datetime) -> str:
    """When the figures were counted, to the second, Beijing time: 2026年12月7日 09:40:05."""
    local = moment.astimezone(BEIJING)
    return f"{format_date_zh(local)} {local:%H:%M:%S}"


def share(part: int, whole: int) -> str:
    """`part` as a percentage of `whole`, one decimal; — when whole is 0."""
    return f"{part / whole:.1%}" if whole else "—"


def _axis(largest: int) -> tuple[int, int]:
    """The value axis reaching `largest` in at most five round steps (1, 2 or 5 × 10ⁿ): step and top."""
    round_steps = (multiple * 10 ** exponent for exponent in count() for multiple in (1, 2, 5))
    step = next(step for step in round_steps if largest <= 5 * step)
    return step, max(1, ceil(largest / step)) * step


def _error_zh(messages: Mapping[str, Any]) -> str:
    named = [FILTERS_ZH.get(name, name) for name in messages]
    return f"筛选条件有误：{'、'.join(named)}。月份请按“年-月”选择，例如 2026-11；截止月份不能早于起始月份。"
