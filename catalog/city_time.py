"""The city's clock: Beijing time (UTC+8, no daylight saving), in which people read times and
statistics count months. Innermost, so every package uses the one definition."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "北京时间")


def city_today(now: datetime | None = None) -> date:
    """The city's date at `now` (default: this moment): from 16:00 UTC on, already the next day."""
    return (now or datetime.now(timezone.utc)).astimezone(BEIJING).date()


SECONDS = "%Y-%m-%d %H:%M:%S"
"""`beijing_time`'s pattern to the second."""


def beijing_time(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """Format an aware timestamp in Beijing time."""
    return moment.astimezone(BEIJING).strftime(pattern)


def format_date_zh(day: date) -> str:
    """A day as people read it, e.g. 2026年11月21日."""
    return f"{day.year}年{day.month}月{day.day}日"
