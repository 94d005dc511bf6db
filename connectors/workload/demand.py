"""When dossiers arrive, for which procedure, at which agency, through which channel.

Demand per procedure is heavy-tailed (a few procedures get most dossiers, a quarter get
almost none), commune-level procedures carry extra volume (civil status, certification),
and online-capable services attract more. Days follow the office calendar with month-end
and quarter-end peaks; online dossiers also arrive at night and on days off.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterator
from datetime import date
from itertools import accumulate
from typing import Any

from connectors.workload.model import Application, Catalogue
from connectors.workload.rand import between, weighted
from connectors.workload.texts import applicant
from connectors.workload.workdays import CLOSE, OPEN, ordinal_of, time_at

__all__ = ["Demand", "Submission"]

_SERVICE_PULL = {"INFO": 0.3, "PARTIAL_ONLINE": 1.0, "FULL_ONLINE": 1.6}
_COMMUNE_PULL = 3.5
_BUSINESS_SECTORS = frozenset({"G01", "G02", "G04", "G09", "G14", "G15", "G16", "G17"})
_KINDS = ("CITIZEN", "BUSINESS", "ORGANISATION", "STATE_AGENCY", "OTHER")
_KIND_CUMULATIVE = {True: (0.40, 0.95, 0.98, 0.995, 1.0), False: (0.90, 0.95, 0.98, 0.99, 1.0)}
_MONTH_END, _QUARTER_END = 4.5, 7.0  # peak factors of the last two working days


class Submission:
    """One dossier's submission: what the lifecycle starts from."""

    __slots__ = ("app", "applicant", "channel", "service_level", "t")

    def __init__(
        self,
        t: int,
        app: Application,
        service_level: str,
        channel: str,
        applicant: dict[str, Any],
    ) -> None:
        self.t, self.app, self.service_level = t, app, service_level
        self.channel, self.applicant = channel, applicant


class Demand:
    """Draws submission days, times, applications, channels and applicants."""

    def __init__(self, cat: Catalogue, rng: random.Random) -> None:
        self.cat, self.rng, self.cal = cat, rng, cat.calendar
        target = cat.spec.online_share
        self.off_day_weight, self.off_hours = 0.1 * target, 0.12 * target
        start = date(cat.spec.year, 1, 1).toordinal()
        self.procs: list[str] = []
        self.front: dict[str, tuple[list[Application], list[float]]] = {}
        weights: list[float] = []
        capable = total = 0.0
        for proc in cat.procedures:
            apps = [a for a in cat.applications[proc.code] if not a.partner] or list(
                cat.applications[proc.code]
            )
            levels = [a.service_level_at(start) for a in apps]
            best = max(_SERVICE_PULL[level] for level in levels)
            pull = _COMMUNE_PULL if "COMMUNE" in proc.levels else 1.0
            weight = proc.popularity * best * pull
            share = sum(lv != "INFO" for lv in levels) / len(levels)
            self.procs.append(proc.code)
            weights.append(weight)
            total += weight
            capable += weight * share
            self.front[proc.code] = (apps, list(accumulate(a.agency.weight for a in apps)))
        self.cum = list(accumulate(weights))
        off = self._off_share()
        in_hours_capable = (capable / total if total else 1.0) * (1 - off)
        wanted = target - off
        self.p_online = min(1.0, max(0.0, wanted / in_hours_capable)) if in_hours_capable else 0.0

    def _weights(self) -> list[tuple[int, float]]:
        year, cal = self.cat.spec.year, self.cal
        first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
        days = [
            (o, 1.0 if cal.is_working(o) else self.off_day_weight) for o in range(first, last + 1)
        ]
        for month in range(1, 13):
            ends = [
                i
                for i, (o, _) in enumerate(days)
                if date.fromordinal(o).month == month and cal.is_working(o)
            ][-2:]
            for i in ends:
                days[i] = (days[i][0], _QUARTER_END if month % 3 == 0 else _MONTH_END)
        return days

    def _off_share(self) -> float:
        days = self._weights()
        total = sum(w for _, w in days)
        off = sum(w for o, w in days if not self.cal.is_working(o))
        return (off + (total - off) * self.off_hours) / total if total else 0.0

    def day_counts(self, dossiers: int) -> list[tuple[int, int]]:
        """Dossiers per day of the year (largest-remainder split of the day weights)."""
        days = self._weights()
        total = sum(w for _, w in days)
        exact = [dossiers * w / total for _, w in days]
        counts = [int(x) for x in exact]
        order = sorted(range(len(days)), key=lambda i: int(exact[i]) - exact[i])
        for i in order[: dossiers - sum(counts)]:
            counts[i] += 1
        return [(o, n) for (o, _), n in zip(days, counts, strict=True) if n]

    def times(self, ordinal: int, n: int) -> list[tuple[int, bool]]:
        """Sorted submission times of one day, each with "online only" (off hours)."""
        rng, out = self.rng, []
        working = self.cal.is_working(ordinal)
        for _ in range(n):
            if not working:
                out.append((time_at(ordinal, between(rng, 6 * 3600, 23 * 3600)), True))
            elif rng.random() < self.off_hours:
                secs = (
                    between(rng, CLOSE, 23 * 3600)
                    if rng.random() < 0.8
                    else between(rng, 5 * 3600, OPEN - 1)
                )
                out.append((time_at(ordinal, secs), True))
            else:
                secs = (
                    between(rng, OPEN, 11 * 3600 + 1800)
                    if rng.random() < 0.55
                    else (between(rng, 13 * 3600, CLOSE - 60))
                )
                out.append((time_at(ordinal, secs), False))
        out.sort()
        return out

    def _application(self, ordinal: int, online_only: bool) -> tuple[Application, str]:
        rng, cum = self.rng, self.cum
        for _ in range(200):
            code = self.procs[bisect_right(cum, rng.random() * cum[-1])]
            apps, weights = self.front[code]
            app = apps[bisect_right(weights, rng.random() * weights[-1])]
            if app.active_at(ordinal):
                level = app.service_level_at(ordinal)
                if not (online_only and level == "INFO"):
                    return app, level
        for strict in (True, False):  # a tiny or exotic catalogue: scan it
            for apps in self.cat.applications.values():
                for app in apps:
                    level = app.service_level_at(ordinal)
                    if app.active_at(ordinal) and not (strict and online_only and level == "INFO"):
                        return app, level
        raise RuntimeError(f"no procedure is applied anywhere on day {ordinal}")

    def submission(self, t: int, online_only: bool) -> Submission:
        """A submission at local time ``t``."""
        rng = self.rng
        app, level = self._application(ordinal_of(t), online_only)
        if level != "INFO" and (online_only or rng.random() < self.p_online):
            channel = "ONLINE"
        else:
            channel = "IN_PERSON" if rng.random() < 0.88 else "POSTAL"
        business = app.procedure.sector_code in _BUSINESS_SECTORS
        kind = weighted(rng, _KINDS, _KIND_CUMULATIVE[business])
        return Submission(t, app, level, channel, applicant(rng, kind, channel == "ONLINE"))

    def stream(self, dossiers: int) -> Iterator[Submission]:
        """All submissions of the year in time order."""
        for ordinal, n in self.day_counts(dossiers):
            for t, online_only in self.times(ordinal, n):
                yield self.submission(t, online_only)
