"""When "today" and "this month" start: local midnight and the local 1st in the community's time zone.

Stored times stay UTC. Quotas ("20 videos a day", "$2 a month"), the global budget and the spend reports count
from the starts this calendar gives, so a community in Asia/Seoul gets a fresh day at 00:00 in Seoul (15:00
UTC), not at 09:00 in Seoul. The zone comes from the TIMEZONE setting through the engine's config; storage
only ever sees a ``tzinfo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo


@dataclass(frozen=True, slots=True)
class Calendar:
    """Day and month boundaries in ``zone``, as UTC times ready to compare with stored ones."""

    zone: tzinfo = UTC

    def local(self, when: datetime) -> datetime:
        """``when`` on the community's clock (a naive time is taken as UTC, as storage keeps them)."""
        return _aware(when).astimezone(self.zone)

    def day_start(self, now: datetime) -> datetime:
        return self._midnight(self.local(now).date())

    def next_day(self, now: datetime) -> datetime:
        """The start of tomorrow: when "jobs today" counts from zero again."""
        return self._midnight(self.local(now).date() + timedelta(days=1))

    def month_start(self, now: datetime) -> datetime:
        return self._midnight(self.local(now).date().replace(day=1))

    def next_month(self, now: datetime) -> datetime:
        """The start of next month: when a monthly allowance and the global budget renew."""
        first = self.local(now).date().replace(day=1)
        return self._midnight((first + timedelta(days=32)).replace(day=1))

    def month_key(self, when: datetime | str) -> str:
        """The budget table's key, "2026-11", of the local month ``when`` falls in. SQLite's fast path hands
        back stored times as UTC text ("2026-11-30 15:30:00.000000"), which is read as such."""
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        return self.local(when).strftime("%Y-%m")

    def _midnight(self, day: date) -> datetime:
        # Where a clock change skips midnight, the day starts at the change (zoneinfo's fold=0 reading).
        return datetime.combine(day, time(), tzinfo=self.zone).astimezone(UTC)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
