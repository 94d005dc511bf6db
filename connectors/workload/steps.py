"""The work inside a dossier: transfers, forwards, payments, delivery and rating.

:class:`Work` draws the steps that :class:`~connectors.workload.dossiers.Lifecycle` places
on working days: the chain of internal transfers (with an inter-agency forward out and
back for liên thông procedures), the financial obligation, the payment method, and what
happens after resolution.
"""

from __future__ import annotations

import random
from itertools import pairwise
from typing import Any

from connectors.workload import texts
from connectors.workload.demand import Submission
from connectors.workload.model import Agency, Application, Catalogue
from connectors.workload.rand import between, pick, weighted
from connectors.workload.workdays import DAY

__all__ = ["Event", "Work"]

Event = tuple[int, str, dict[str, Any]]  # (local time, event type, fields)
_PARTNER_STEPS = (
    ("Tiếp nhận hồ sơ liên thông", "Thẩm định hồ sơ", "Phòng chuyên môn"),
    ("Thẩm định hồ sơ", "Trình ký", "Lãnh đạo"),
)
_RATINGS = ("VERY_SATISFIED", "SATISFIED", "NEUTRAL", "DISSATISFIED")


class Work:
    """Draws the steps of dossiers handled in one catalogue."""

    def __init__(self, cat: Catalogue, rng: random.Random) -> None:
        self.cat, self.rng, self.cal = cat, rng, cat.calendar
        self.verticals = [a for a in cat.agencies.values() if a.kind == "VERTICAL"]
        self.provincial: dict[str, list[Application]] = {}  # non-commune applications

    def partner(self, app: Application, ordinal: int, mode: str) -> Agency | None:
        """Where to forward: another agency applying the procedure, else a vertical one.

        INTER_AGENCY prefers an agency of another kind (a commune forwards to the
        department); INTERNAL goes to another agency applying it, if there is one.
        """
        rng, handler, apps = self.rng, app.agency, self.cat.applications[app.procedure.code]
        if mode == "INTER_AGENCY":
            provincial = self.provincial.get(app.procedure.code)
            if provincial is None:
                provincial = self.provincial[app.procedure.code] = [
                    a for a in apps if a.agency.kind != "COMMUNE"
                ]
            preferred = [
                a.agency
                for a in provincial
                if a.agency is not handler
                and a.agency.kind != handler.kind
                and a.active_at(ordinal)
            ]
            if preferred:
                return pick(rng, preferred)
        for _ in range(20):  # rejection sampling: commune-level procedures apply at ~100 places
            other = pick(rng, apps)
            if other.agency is not handler and other.active_at(ordinal):
                return other.agency
        return None if mode == "INTERNAL" else pick(rng, self.verticals or [handler])

    def items(
        self, sub: Submission, inter: bool, ordinal: int, fee: int, k: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """Transfers, forwards and the obligation, in order (before day placement)."""
        rng, app = self.rng, sub.app
        handler = app.agency
        units = texts.units_for(handler.kind == "COMMUNE")
        middle = sorted(between(rng, 1, len(texts.STEPS) - 2) for _ in range(k - 1))
        names, seen = [texts.STEPS[0]], dict[str, int]()
        for i in middle:
            step = texts.STEPS[i]
            seen[step] = seen.get(step, 0) + 1
            names.append(step if seen[step] == 1 else f"{step} (lần {seen[step]})")
        names.append(texts.STEPS[-1])
        items: list[tuple[str, dict[str, Any]]] = [
            (
                "DossierStepTransferred",
                {
                    "from_step": a,
                    "to_step": b,
                    "to_unit": pick(rng, units) if rng.random() < 0.95 else None,
                },
            )
            for a, b in pairwise(names)
        ]
        mode = (
            "INTER_AGENCY"
            if inter
            else "INTERNAL"
            if (handler.kind == "COMMUNE" and rng.random() < 0.01)
            else None
        )
        partner = self.partner(app, ordinal, mode) if mode else None
        if mode and partner is not None and partner is not handler:
            out = (
                "DossierForwarded",
                {"from_agency_code": handler.code, "to_agency_code": partner.code, "mode": mode},
            )
            work = [
                (
                    "DossierStepTransferred",
                    {"from_step": a, "to_step": b, "to_unit": f"{unit} - {partner.name}"},
                )
                for a, b, unit in _PARTNER_STEPS[: between(rng, 1, 2)]
            ]
            back = [
                (
                    "DossierForwarded",
                    {
                        "from_agency_code": partner.code,
                        "to_agency_code": handler.code,
                        "mode": mode,
                    },
                )
            ]
            items[1:1] = [out, *work, *(back if mode == "INTER_AGENCY" else [])]
        amount = fee * pick(rng, (1, 1, 1, 2, 3))
        if app.procedure.sector_code == "G10" and rng.random() < 0.3:
            amount += between(rng, 5, 400) * 100_000  # land-use fees and registration tax
        if amount and rng.random() < 0.85:
            items.insert(between(rng, 1, len(items)), ("oblig", {"amount_vnd": amount}))
        return items

    def method(self, sub: Submission, ordinal: int) -> tuple[str, str | None]:
        """Payment method and transaction reference, given the channel and the set-up."""
        rng, u = self.rng, self.rng.random()
        if sub.channel == "ONLINE" and sub.app.online_payment_at(ordinal):
            method = "ONLINE" if u < 0.85 else "TRANSFER" if u < 0.95 else "CASH"
        elif sub.channel == "ONLINE":
            method = "TRANSFER" if u < 0.55 else "CASH"
        else:
            method = "CASH" if u < 0.8 else "TRANSFER"
        ref = {
            "ONLINE": f"DVCQG{rng.getrandbits(48):012X}",
            "TRANSFER": f"FT{between(rng, 10**11, 10**12 - 1)}",
        }.get(method)
        return method, ref

    def after(self, sub: Submission, resolved: Event, late: bool, fee: int) -> list[Event]:
        """Payment at pick-up, delivery of the result and the applicant's rating."""
        rng, cal = self.rng, self.cal
        t = resolved[0]
        out: list[Event] = []
        if fee and rng.random() < 0.1:
            t += between(rng, 600, 4 * 3600)
            out.append(
                (
                    t,
                    "PaymentCompleted",
                    {"method": "CASH", "amount_vnd": fee, "transaction_ref": None},
                )
            )
        if rng.random() < 0.02:
            return out
        online = sub.channel == "ONLINE"
        if resolved[2]["electronic_result"] and online and rng.random() < 0.9:
            method, t = "ONLINE", t + between(rng, 60, 3600)
        elif sub.channel == "POSTAL" or rng.random() < 0.1:
            method = "POSTAL"
            t = cal.open_at(t + between(rng, DAY, 3 * DAY)) + between(rng, 0, 7200)
        else:
            method = "COUNTER"
            t = cal.open_at(t + between(rng, 600, 5 * DAY)) + between(rng, 0, 3600)
        out.append((t, "ResultDelivered", {"method": method}))
        if rng.random() < (0.4 if online else 0.15):
            cumulative = (0.2, 0.5, 0.75, 1.0) if late else (0.6, 0.92, 0.98, 1.0)
            out.append(
                (
                    t + between(rng, 300, 3 * DAY),
                    "SatisfactionRated",
                    {"rating": weighted(rng, _RATINGS, cumulative)},
                )
            )
        return out
