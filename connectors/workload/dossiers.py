"""One dossier's lifecycle, drawn along the contract's allowed transitions only.

The plan is made in working days: the resolution day is chosen first relative to the due
date (early, on time or late), supplement requests pause the clock (the due date moves by
the paused working days), and the other steps float in between. Every composite step
(supplement request + receipt, obligation + payment, suspension + resumption, forward out
+ back) returns the dossier to status 4, so the steps can be put in any order. Times of
day are then spread over office hours, strictly increasing. Events after the year end are
cut later by the generator; any prefix of a legal sequence is legal.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from connectors.workload import texts
from connectors.workload.demand import Submission
from connectors.workload.model import Agency, Catalogue
from connectors.workload.rand import between, pick, weighted
from connectors.workload.steps import Event, Work
from connectors.workload.workdays import CLOSE, DAY, OPEN, iso, iso_date, ordinal_of, time_at

__all__ = ["Event", "Lifecycle"]

_Step = tuple[int, str, dict[str, Any]]  # (working-day index, event type, fields)


class Lifecycle:
    """Plans dossier lifecycles for one catalogue; keeps the daily dossier-code counters."""

    def __init__(self, cat: Catalogue, rng: random.Random) -> None:
        self.cat, self.rng, self.cal = cat, rng, cat.calendar
        self.late_share = cat.spec.late_share
        self.daily: dict[tuple[str, int], int] = {}
        self.work = Work(cat, rng)

    def plan(self, sub: Submission) -> tuple[str, list[Event]]:
        """(dossier id, its events in order, strictly increasing in time)."""
        rng, app = self.rng, sub.app
        dossier_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        inter = app.procedure.inter_agency and rng.random() < 0.9
        events: list[Event] = [
            (
                sub.t,
                "DossierSubmitted",
                {
                    "procedure_code": app.procedure.code,
                    "agency_code": app.agency.code,
                    "channel": sub.channel,
                    "inter_agency": inter,
                    "applicant": sub.applicant,
                },
            )
        ]
        t_recv = self._receipt(sub)
        u = rng.random()
        if u < 0.004:
            reason = pick(rng, texts.WITHDRAWAL_REASONS) if rng.random() < 0.7 else None
            events.append((sub.t + between(rng, 600, DAY), "DossierWithdrawn", {"reason": reason}))
            return dossier_id, events
        if u < 0.034:
            events.append(
                (t_recv, "DossierIntakeRefused", {"reason": pick(rng, texts.INTAKE_REFUSALS)})
            )
            return dossier_id, events
        version = app.procedure.version_at(ordinal_of(sub.t))
        due = self.cal.due(t_recv, *version.time_limit)
        events.append(
            (
                t_recv,
                "DossierReceived",
                {
                    "dossier_code": self._code(app.agency, ordinal_of(t_recv)),
                    "handling_agency_code": app.agency.code,
                    "due_at": None if due is None else iso(due),
                },
            )
        )
        steps, late = self._process(sub, inter, t_recv, due, version.fee_vnd)
        events.extend(self._timed(steps, t_recv))
        if events[-1][1] == "DossierResolved":
            paid = any(kind == "PaymentCompleted" for _, kind, _ in steps)
            events.extend(self.work.after(sub, events[-1], late, 0 if paid else version.fee_vnd))
        return dossier_id, events

    def _code(self, agency: Agency, ordinal: int) -> str:
        key = (agency.code, ordinal)
        seq = self.daily[key] = self.daily.get(key, 0) + 1
        day = iso_date(ordinal)
        return f"{agency.dossier_prefix}-{day[2:4]}{day[5:7]}{day[8:10]}-{seq:04d}"

    def _receipt(self, sub: Submission) -> int:
        rng, cal = self.rng, self.cal
        if sub.channel == "IN_PERSON":
            return sub.t + between(rng, 180, 1500)
        opened = cal.open_at(
            sub.t
            + (
                between(rng, 1800, 3 * 3600)
                if sub.channel == "POSTAL"
                else between(rng, 300, 2 * 3600)
            )
        )
        if rng.random() < 0.3:
            opened = cal.open_at(cal.shift(opened, pick(rng, (1, 1, 1, 2))))
        return opened + between(rng, 0, 5400)

    def _process(
        self, sub: Submission, inter: bool, t_recv: int, due: int | None, fee: int
    ) -> tuple[list[_Step], bool]:
        """The steps after receipt, by working day, ending with resolution or withdrawal."""
        rng, cal = self.rng, self.cal
        start = cal.next_index(ordinal_of(t_recv))
        if due is None:
            limit, r = 0, between(rng, 0, 10)
        else:
            limit = max(0, cal.next_index(ordinal_of(due)) - start)
            u = rng.random()
            if u < self.late_share:
                r = limit + 1 + min(int(rng.expovariate(1 / 3)), 30)
            elif u < self.late_share + 0.3 or limit == 0:
                r = limit
            else:
                r = between(rng, 0, limit - 1)
        k = max(
            1,
            (3 if r <= 1 else 4 if r <= 5 else 5 if r <= 15 else 6)
            + pick(rng, (-1, 0, 0, 1))
            + (between(rng, 3, 8) if sub.app.procedure.complexity else 0),
        )
        items = self.work.items(sub, inter, ordinal_of(t_recv), fee, k)
        offsets = sorted(between(rng, 0, r) for _ in items)
        if offsets and rng.random() < 0.7:
            offsets[0] = 0  # the first transfer usually happens on the day of receipt
        plan: list[tuple[int, float, str, dict[str, Any]]] = [
            (x, i, kind, fields)
            for i, (x, (kind, fields)) in enumerate(zip(offsets, items, strict=True))
        ]
        n_supplements = weighted(rng, (0, 1, 2), (0.84, 0.97, 1.0)) if r >= 1 else 0
        plan += [
            (between(rng, 0, r - 1), rng.uniform(0, len(items)), "supplement", {})
            for _ in range(n_supplements)
        ]
        plan += [
            (between(rng, 0, r), rng.uniform(0, len(items)), kind, {})
            for kind, p in (("suspend", 0.02), ("withdraw", 0.012))
            if rng.random() < p
        ]
        plan.sort(key=lambda entry: (entry[0], entry[1]))
        steps: list[_Step] = []
        shift, due_now = 0, due
        for n, (x, _, kind, fields) in enumerate(plan):
            day = start + x + shift
            if kind == "supplement":
                steps.append(
                    (day, "SupplementRequested", {"reason": pick(rng, texts.SUPPLEMENT_REASONS)})
                )
                pause = 1 + min(int(rng.expovariate(1 / 4)), 20)
                if rng.random() < 0.05:
                    steps.append(
                        (
                            day + pause + 10,
                            "DossierWithdrawn",
                            {"reason": texts.WITHDRAWAL_REASONS[3]},
                        )
                    )
                    return steps, False
                shift += pause
                due_now = None if due_now is None else cal.shift(due_now, pause)
                steps.append(
                    (
                        day + pause,
                        "SupplementReceived",
                        {"new_due_at": None if due_now is None else iso(due_now)},
                    )
                )
            elif kind == "suspend":
                steps.append(
                    (day, "DossierSuspended", {"reason": pick(rng, texts.SUSPENSION_REASONS)})
                )
                pause = between(rng, 2, 25)
                if rng.random() < 0.2:
                    steps.append((day + pause, "DossierWithdrawn", {"reason": None}))
                    return steps, False
                shift += pause
                steps.append((day + pause, "DossierResumed", {}))
            elif kind == "withdraw":
                reason = pick(rng, texts.WITHDRAWAL_REASONS[:3]) if rng.random() < 0.8 else None
                steps.append((day, "DossierWithdrawn", {"reason": reason}))
                return steps, False
            elif kind == "oblig":
                steps.append((day, "FinancialObligationRequested", fields))
                method, ref = self.work.method(sub, cal.workdays[min(day, len(cal.workdays) - 1)])
                wait = 0 if method == "ONLINE" and rng.random() < 0.8 else between(rng, 0, 3)
                following = plan[n + 1][0] if n + 1 < len(plan) else r  # pay before the next step
                steps.append(
                    (
                        min(day + wait, start + following + shift),
                        "PaymentCompleted",
                        {
                            "method": method,
                            "amount_vnd": fields["amount_vnd"],
                            "transaction_ref": ref,
                        },
                    )
                )
            else:
                steps.append((day, kind, fields))
        share = {"FULL_ONLINE": 0.85, "PARTIAL_ONLINE": 0.4}.get(sub.service_level, 0.05)
        electronic = rng.random() < (share if sub.channel == "ONLINE" else 0.05)
        outcome = "REFUSED" if rng.random() < 0.04 else "APPROVED"
        steps.append(
            (
                start + r + shift,
                "DossierResolved",
                {"outcome": outcome, "electronic_result": electronic},
            )
        )
        return steps, due_now is not None and start + r + shift > cal.next_index(
            ordinal_of(due_now)
        )

    def _timed(self, steps: list[_Step], t_recv: int) -> list[Event]:
        """Place each working-day step at a time of day, strictly after the previous one."""
        rng, workdays, cur = self.rng, self.cal.workdays, t_recv
        later = [0] * len(steps)  # how many later steps fall on the same day
        for i in range(len(steps) - 2, -1, -1):
            later[i] = later[i + 1] + 1 if steps[i + 1][0] == steps[i][0] else 0
        out: list[Event] = []
        for i, (day, kind, fields) in enumerate(steps):
            if day >= len(workdays):
                break
            base = time_at(workdays[day], 0)
            lo, hi = max(cur + 60, base + OPEN), base + CLOSE
            cur = (
                lo + int(rng.random() * (hi - lo) / (later[i] + 1))
                if lo < hi
                else (cur + between(rng, 60, 900))
            )
            out.append((cur, kind, fields))
        return out
