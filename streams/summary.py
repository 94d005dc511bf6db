"""A short human-readable rendering of a statistics object (for `onestop stats` and the demo)."""

from __future__ import annotations

from typing import Any

__all__ = ["render_summary"]


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f} %"


def render_summary(result: dict[str, Any]) -> str:
    period = result["period"]
    cat = result["catalogue"]
    dos = result["dossiers"]
    levels = cat["by_service_level"]
    score = "n/a" if dos["progress_score_766"] is None else dos["progress_score_766"]
    lines = [
        f"Statistics {period['from']} .. {period['to']} (as of {result['as_of']})",
        "",
        "Catalogue (entries = procedure x level)",
        f"  entries                 {cat['entries_total']:>10}",
        f"  INFO / PARTIAL / FULL   {levels['INFO']:>10} / {levels['PARTIAL_ONLINE']} / "
        f"{levels['FULL_ONLINE']}",
        f"  online services         {cat['online_services']:>10}  "
        f"({_pct(cat['online_share_pct'])})",
        f"  fully online share      {_pct(cat['full_online_share_pct']):>12}",
        f"  online with dossiers    {cat['online_with_dossiers']:>10}  "
        f"({_pct(cat['online_with_dossiers_pct'])})",
        "",
        "Dossiers (Biểu 06/VPCP/KSTT)",
        f"  received                {dos['received_total']:>10}  "
        f"(carried over {dos['carried_over']}, new {dos['new_total']}: online {dos['new_online']}, "
        f"direct/postal {dos['new_direct_postal']})",
        f"  resolved                {dos['resolved_total']:>10}  (early {dos['resolved_early']}, "
        f"on time {dos['resolved_on_time']}, late {dos['resolved_late']})",
        f"  in process              {dos['in_process_total']:>10}  "
        f"(within {dos['in_process_within']}, "
        f"late {dos['in_process_late']})",
        f"  withdrawn               {dos['withdrawn']:>10}",
        f"  waiting / suspended     {dos['waiting_supplement_or_suspended']:>10}",
        f"  on-time rate            {_pct(dos['on_time_rate_pct']):>12}",
        f"  online share (new)      {_pct(dos['online_share_pct']):>12}",
        f"  online resolved share   {_pct(dos['online_resolved_share_pct']):>12}",
        f"  online payment share    {_pct(dos['online_payment_share_pct']):>12}",
        f"  progress score (766)    {score:>10} / 20",
    ]
    return "\n".join(lines)
