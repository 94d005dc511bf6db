"""The dossier block (Biểu 06/VPCP/KSTT plus the online KPIs) in one pass over the facts.

Each received dossier that matters for the period is classified once into a small integer
*signature* (new or carried over, channel, where it stands at `to`, financial obligation,
online payment) and counted per (sector, handling agency, signature). The totals, the
per-sector and the per-agency blocks are then summed from that counter, so the province,
the breakdowns and the filters all come from the same single pass and always add up.

Definitions (DOMAIN.md, "Statistics"), for P = [from, to] and a dossier d with
`received_on` set (only received dossiers enter the block):

- counted at all (`received_total`) iff recv <= to and not (end < from);
  `carried_over` iff recv < from, else `new_total`;
- end in P: `resolved_*` (end_kind RESOLVED, end vs due: <, = or no due, >) or `withdrawn`;
- otherwise by status(d, to): {5, 6, 8} → `waiting_supplement_or_suspended`, else
  `in_process_*` (due >= to or no due → within, due < to → late). For facts the fold
  produces, "else" is exactly {2, 4}; any other status there would be inconsistent facts,
  and counting them as in process keeps the balance true rather than losing a dossier.
- `due` is the fact's `due_on`, the latest due date known (DOMAIN's `due(d)`), also for a
  past period.
- `online_payment_share_pct`: of the counted dossiers with a `FinancialObligationRequested`
  dated in P, those whose first ONLINE payment (`online_paid_on`) is on or before `to` —
  DOMAIN's words, read literally, so an online payment made before P (for an earlier
  obligation) counts. The "only received dossiers" rule applies to this KPI like to the rest
  of the block; it removes nothing, since an obligation can only be requested in status 2
  or 4 (CONTRACT's transitions), i.e. after receipt and before the end, so a dossier with an
  obligation in P is always received and counted.
- `progress_score_766` = 20 × (early + on time + in process within) / received, rounded
  like the percentages; null when nothing was received.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from projections.stats_facts import DossierFact, half_up

__all__ = ["DOSSIER_KEYS", "DossierCounts", "count_dossiers", "dossier_block"]

DOSSIER_KEYS: tuple[str, ...] = (
    "received_total", "carried_over", "new_total", "new_online", "new_direct_postal",
    "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
    "in_process_total", "in_process_within", "in_process_late",
    "withdrawn", "waiting_supplement_or_suspended",
    "on_time_rate_pct", "online_share_pct", "online_resolved_share_pct",
    "online_payment_share_pct", "progress_score_766",
)  # fmt: skip

# Raw counters, by index.
_CARRIED, _NEW, _NEW_ONLINE, _NEW_DIRECT = 0, 1, 2, 3
_EARLY, _ON_TIME, _LATE, _WITHDRAWN, _IP_WITHIN, _IP_LATE, _WAITING = 4, 5, 6, 7, 8, 9, 10
_RESOLVED_ONLINE, _OBLIGED, _PAID_ONLINE = 11, 12, 13
_WIDTH = 14

_WAITING_STATUSES = frozenset({5, 6, 8})

DossierCounts = list[int]
"""The 14 raw counters of one block (see `dossier_block` for the keys derived from them)."""

Signature = int
"""bit 0: new (else carried over); bits 1-2: channel (1 online, 2 in person/postal);
bits 3-5: outcome (0..6 = early, on time, late, withdrawn, within, late, waiting);
bit 6: obligation in P; bit 7: paid online on or before `to`."""


def _signature(d: DossierFact, start: date, end: date) -> Signature | None:
    """Classify one dossier for P = [start, end]; None when it is not counted at all."""
    recv = d.received_on
    if recv is None or recv > end:
        return None
    ended = d.end_on
    if ended is not None and ended < start:
        return None
    sig = 1 if recv >= start else 0
    sig |= 2 if d.channel == "ONLINE" else 4
    due = d.due_on
    if ended is not None and ended <= end:
        if d.end_kind == "WITHDRAWN":
            outcome = 3
        elif due is None or ended == due:
            outcome = 1
        else:
            outcome = 0 if ended < due else 2
    elif d.status_on(end) in _WAITING_STATUSES:
        outcome = 6
    else:
        outcome = 4 if due is None or due >= end else 5
    sig |= outcome << 3
    for obliged_on in d.obligation_on:
        if start <= obliged_on <= end:
            paid = d.online_paid_on
            sig |= 64 if paid is None or paid > end else 192
            break
    return sig


def _increments(sig: Signature) -> DossierCounts:
    counts = [0] * _WIDTH
    new, online = sig & 1, (sig >> 1) & 3 == 1
    counts[_NEW if new else _CARRIED] = 1
    if new:
        counts[_NEW_ONLINE if online else _NEW_DIRECT] = 1
    outcome = (sig >> 3) & 7
    counts[_EARLY + outcome] = 1
    if outcome <= 2 and online:
        counts[_RESOLVED_ONLINE] = 1
    if sig & 64:
        counts[_OBLIGED] = 1
    if sig & 128:
        counts[_PAID_ONLINE] = 1
    return counts


def count_dossiers(
    dossiers: Iterable[DossierFact],
    start: date,
    end: date,
    *,
    sector_of: Callable[[str], str],
    agency: str | None = None,
    sector: str | None = None,
) -> tuple[DossierCounts, dict[str, DossierCounts], dict[str, DossierCounts], set[tuple[str, str]]]:
    """One pass: (totals, per sector, per handling agency, online pairs).

    The blocks hold only dossiers passing the filters (`agency` = handling agency, `sector`
    = sector of the procedure); a dossier without a handling agency is counted under its
    submitting agency. The online pairs are every (procedure_code, agency_code) with an
    ONLINE dossier received in P, whatever the filters: the catalogue's
    `online_with_dossiers` is built from them.
    """
    by_key: dict[tuple[str, str, Signature], int] = {}
    online_pairs: set[tuple[str, str]] = set()
    sectors: dict[str, str] = {}
    for d in dossiers:
        sig = _signature(d, start, end)
        if sig is None:
            continue
        code = d.procedure_code
        if sig & 3 == 3:  # new and online: received in P through the portal
            online_pairs.add((code, d.agency_code))
        dossier_sector = sectors.get(code)
        if dossier_sector is None:
            dossier_sector = sectors[code] = sector_of(code)
        handler = d.handling_agency_code or d.agency_code
        if (agency is None or handler == agency) and (sector is None or dossier_sector == sector):
            key = (dossier_sector, handler, sig)
            by_key[key] = by_key.get(key, 0) + 1

    total = [0] * _WIDTH
    per_sector: dict[str, DossierCounts] = {}
    per_agency: dict[str, DossierCounts] = {}
    increments: dict[Signature, DossierCounts] = {}
    for (dossier_sector, handler, sig), n in by_key.items():
        step = increments.get(sig) or increments.setdefault(sig, _increments(sig))
        s_counts = per_sector.setdefault(dossier_sector, [0] * _WIDTH)
        a_counts = per_agency.setdefault(handler, [0] * _WIDTH)
        for i, inc in enumerate(step):
            if inc:
                total[i] += n
                s_counts[i] += n
                a_counts[i] += n
    return total, per_sector, per_agency, online_pairs


def dossier_block(counts: DossierCounts | None) -> dict[str, Any]:
    """The CONTRACT's `"dossiers"` object from raw counters (None = nothing counted)."""
    c = counts or [0] * _WIDTH
    received = c[_CARRIED] + c[_NEW]
    resolved = c[_EARLY] + c[_ON_TIME] + c[_LATE]
    timely = c[_EARLY] + c[_ON_TIME]
    return {
        "received_total": received,
        "carried_over": c[_CARRIED],
        "new_total": c[_NEW],
        "new_online": c[_NEW_ONLINE],
        "new_direct_postal": c[_NEW_DIRECT],
        "resolved_total": resolved,
        "resolved_early": c[_EARLY],
        "resolved_on_time": c[_ON_TIME],
        "resolved_late": c[_LATE],
        "in_process_total": c[_IP_WITHIN] + c[_IP_LATE],
        "in_process_within": c[_IP_WITHIN],
        "in_process_late": c[_IP_LATE],
        "withdrawn": c[_WITHDRAWN],
        "waiting_supplement_or_suspended": c[_WAITING],
        "on_time_rate_pct": half_up(timely, resolved),
        "online_share_pct": half_up(c[_NEW_ONLINE], c[_NEW]),
        "online_resolved_share_pct": half_up(c[_RESOLVED_ONLINE], resolved),
        "online_payment_share_pct": half_up(c[_PAID_ONLINE], c[_OBLIGED]),
        "progress_score_766": half_up(timely + c[_IP_WITHIN], received, scale=20),
    }
