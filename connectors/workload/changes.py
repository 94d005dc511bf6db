"""The catalogue's life during the year: upgrades, payments, amendments, removals.

Changes are planned with a decision date, then applied in date order so every change sees
the state its ``effective_from`` implies (a ServiceLevelChanged's ``from_level`` is the level
in force then). Each application and procedure is changed at most once per kind, which
keeps the history consistent without replaying it. Effective dates follow the decision
(quyết định) by a few days; the commune merger takes effect on 1 July.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

from connectors.workload.builders import Clock, new_version, published_fields
from connectors.workload.model import Application, Catalogue
from connectors.workload.workdays import iso_date, public_holidays, time_at

__all__ = ["apply_changes"]


class _Changes:
    """Applies one kind of change at a time to the model and records its events."""

    def __init__(self, cat: Catalogue, rng: random.Random, clock: Clock) -> None:
        self.cat, self.rng, self.clock = cat, rng, clock
        self.touched: set[tuple[str, int]] = set()  # (kind, id(object))
        self.apps = [app for apps in cat.applications.values() for app in apps]

    def _emit(self, decision: int, aggregate: str, type_: str, fields: dict[str, Any]) -> None:
        self.clock.emit(time_at(decision, 8 * 3600), aggregate, type_, fields)

    def _ref(self) -> str:
        return f"{self.rng.randint(100, 3999)}/QĐ-UBND"

    def _draw(self, kind: str, fits: Callable[[Application], bool]) -> Application | None:
        """A random application not yet changed for ``kind`` that fits (rejection sampling)."""
        for _ in range(2000):
            app = self.rng.choice(self.apps)
            if fits(app) and self._claim(kind, app):
                return app
        return None

    def _take(self, kind: str, pool: list[Any], n: int) -> list[Any]:
        free = [x for x in pool if (kind, id(x)) not in self.touched]
        chosen = self.rng.sample(free, min(n, len(free)))
        self.touched.update((kind, id(x)) for x in chosen)
        return chosen

    def _claim(self, kind: str, item: object) -> bool:
        """Mark ``item`` as changed for ``kind``; False if it already was."""
        key = (kind, id(item))
        if key in self.touched:
            return False
        self.touched.add(key)
        return True

    def upgrade(self, decision: int, from_level: str, to_level: str, share: float) -> None:
        """A batch decision moving a share of entries up one service level."""
        eff, ref = decision + self.rng.randint(3, 10), self._ref()
        entries: dict[tuple[str, str], list[Application]] = {}
        for app in self.apps:
            if app.active_at(eff) and app.service_level_at(eff) == from_level:
                entries.setdefault((app.procedure.code, app.level), []).append(app)
        keys = sorted(entries)
        for key in self.rng.sample(keys, round(len(keys) * share)):
            for app in entries[key]:
                code, agency = app.procedure.code, app.agency.code
                self._emit(
                    decision,
                    code,
                    "ServiceLevelChanged",
                    {
                        "procedure_code": code,
                        "agency_code": agency,
                        "from_level": from_level,
                        "to_level": to_level,
                        "decision_ref": ref,
                        "effective_from": iso_date(eff),
                    },
                )
                app.level_changes.append((eff, to_level))
                if to_level != "FULL_ONLINE":
                    continue
                fee = app.procedure.version_at(eff).fee_vnd
                if fee > 0 and not app.online_payment_at(eff) and self._claim("payment", app):
                    self._payment(decision, eff, app, True)
                if not app.dvcqg_integrated and self._claim("dvcqg", app):
                    self._dvcqg(decision, eff, app, True)

    def _payment(self, decision: int, eff: int, app: Application, enabled: bool) -> None:
        self._emit(
            decision,
            app.procedure.code,
            "OnlinePaymentConfigured",
            {
                "procedure_code": app.procedure.code,
                "agency_code": app.agency.code,
                "enabled": enabled,
                "effective_from": iso_date(eff),
            },
        )
        app.payment_changes.append((eff, enabled))

    def _dvcqg(self, decision: int, eff: int, app: Application, integrated: bool) -> None:
        self._emit(
            decision,
            app.procedure.code,
            "DvcqgIntegrationChanged",
            {
                "procedure_code": app.procedure.code,
                "agency_code": app.agency.code,
                "integrated": integrated,
                "effective_from": iso_date(eff),
            },
        )
        app.dvcqg_integrated = integrated

    def payment(self, decision: int) -> None:
        """Online payment switched on (or, rarely, off) at one agency."""
        eff = decision + self.rng.randint(1, 7)
        enable = self.rng.random() < 0.8
        app = self._draw(
            "payment",
            lambda a: (
                a.active_at(eff)
                and a.online_payment_at(eff) != enable
                and a.service_level_at(eff) != "INFO"
                and a.procedure.version_at(eff).fee_vnd > 0
            ),
        )
        if app is not None:
            self._payment(decision, eff, app, enable)

    def dvcqg(self, decision: int) -> None:
        """An application connected to (or, rarely, disconnected from) the national portal."""
        eff, integrate = decision + self.rng.randint(1, 7), self.rng.random() < 0.85
        app = self._draw("dvcqg", lambda a: a.active_at(eff) and a.dvcqg_integrated != integrate)
        if app is not None:
            self._dvcqg(decision, eff, app, integrate)

    def amend(self, decision: int) -> None:
        """A new version of a procedure, usually with a shorter time limit."""
        eff = decision + self.rng.randint(5, 30)
        pool = [p for p in self.cat.procedures if p.abolished_from is None]
        for proc in self._take("procedure", pool, 1):
            old = proc.version_at(eff)
            version = new_version(
                self.rng, proc.sector_code, proc.levels == ["COMMUNE"], eff, self._ref()
            )
            value, unit = old.time_limit
            version.time_limit = (max(1, value * 2 // 3) if value else 0, unit)
            version.fee_vnd = old.fee_vnd if self.rng.random() < 0.7 else version.fee_vnd
            proc.versions.append(version)
            self._emit(decision, proc.code, "ProcedureAmended", published_fields(proc, version))

    def abolish(self, decision: int) -> None:
        """A provincial procedure abolished by decision."""
        eff = decision + self.rng.randint(5, 20)
        pool = [p for p in self.cat.procedures if p.levels == ["PROVINCE"] and not p.inter_agency]
        for proc in self._take("procedure", pool, 1):
            proc.abolished_from = eff
            self._emit(
                decision,
                proc.code,
                "ProcedureAbolished",
                {
                    "procedure_code": proc.code,
                    "decision_ref": self._ref(),
                    "effective_from": iso_date(eff),
                },
            )

    def withdraw(self, decision: int) -> None:
        """A procedure no longer handled at one provincial agency."""
        eff = decision + self.rng.randint(3, 15)
        pool = [a for a in self.apps if a.level == "PROVINCE" and a.active_at(eff)]
        partners = [a for a in pool if a.partner]
        for app in self._take("withdrawn", partners or pool, 1):
            self._withdraw(decision, eff, app)

    def _withdraw(self, decision: int, eff: int, app: Application) -> None:
        app.withdrawn_from = eff
        self._emit(
            decision,
            app.procedure.code,
            "ProcedureWithdrawnFromAgency",
            {
                "procedure_code": app.procedure.code,
                "agency_code": app.agency.code,
                "effective_from": iso_date(eff),
            },
        )

    def dissolve(self, decision: int) -> None:
        """One commune merged into a neighbour on 1 July: its procedures go first."""
        communes = self.cat.communes
        eff = date(self.cat.spec.year, 7, 1).toordinal()
        gone = self.rng.choice(communes)
        group = [c for c in communes if c is not gone and c.code[:-3] == gone.code[:-3]]
        successor = self.rng.choice(group or [c for c in communes if c is not gone])
        for app in self.apps:
            if app.agency is gone and app.active_at(eff):
                self.touched.add(("withdrawn", id(app)))
                self._withdraw(decision, eff, app)
        gone.dissolved_from = eff
        self._emit(
            decision,
            gone.code,
            "AgencyDissolved",
            {
                "agency_code": gone.code,
                "successor_code": successor.code,
                "effective_from": iso_date(eff),
            },
        )

    def next_calendar(self, decision: int) -> None:
        """Next year's working calendar, published in the autumn."""
        year = self.cat.spec.year + 1
        holidays, swapped = public_holidays(year)
        self._emit(
            decision,
            f"calendar-{year}",
            "WorkingCalendarPublished",
            {
                "year": year,
                "holidays": [d.isoformat() for d in holidays],
                "swapped_working_days": [d.isoformat() for d in swapped],
            },
        )


def apply_changes(cat: Catalogue, rng: random.Random, clock: Clock) -> None:
    """Plan the year's catalogue changes and apply them in decision-date order."""
    year, changes = cat.spec.year, _Changes(cat, rng, clock)

    def on(month: int, day: int, spread: int = 0) -> int:
        return date(year, month, day).toordinal() + rng.randint(0, spread)

    def between(first: int, last: int) -> int:
        return rng.randint(date(year, first, 1).toordinal(), date(year, last, 28).toordinal())

    n = max(2, len(cat.procedures) // 100)
    plans: list[tuple[int, Callable[[int], None]]] = [
        (on(6, 1, 20), lambda d: changes.upgrade(d, "PARTIAL_ONLINE", "FULL_ONLINE", 0.10)),
        (on(9, 15, 20), lambda d: changes.upgrade(d, "INFO", "PARTIAL_ONLINE", 0.05)),
        (on(11, 10, 10), changes.next_calendar),
    ]
    plans += [(between(2, 11), changes.amend) for _ in range(n)]
    plans += [(between(2, 11), changes.payment) for _ in range(n)]
    plans += [(between(2, 11), changes.dvcqg) for _ in range(n)]
    if len(cat.procedures) >= 20:
        plans += [(between(3, 10), changes.abolish) for _ in range(2)]
        plans += [(between(3, 10), changes.withdraw) for _ in range(2)]
    if len(cat.communes) >= 2:
        plans.append((on(6, 16, 5), changes.dissolve))
    for decision, change in sorted(plans, key=lambda plan: plan[0]):
        change(decision)
