"""The dossier lifecycle: national status codes and the CONTRACT's transition table.

`next_status(status, status_before_payment, event_type)` is the whole rule: the national
status after `event_type` in `status` (None before `DossierSubmitted`), or None when the
event is not allowed there. Statuses 3 (refused at intake) and 7 (withdrawn) are final;
`PaymentCompleted` in 6 returns to the status before 6, in 9 leaves 9; `SatisfactionRated`
is allowed only in 10 and leaves it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "FINAL_STATUSES",
    "STATUS_NAMES",
    "TRANSITIONS",
    "allowed_events",
    "describe_status",
    "next_status",
]

STATUS_NAMES: Final[dict[int, str]] = {
    1: "Mới đăng ký",
    2: "Được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung",
    6: "Nghĩa vụ tài chính",
    7: "Rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}
FINAL_STATUSES: Final[frozenset[int]] = frozenset({3, 7})

# Marker targets resolved by `next_status`.
_BACK_BEFORE_PAYMENT: Final = -1
_UNCHANGED: Final = 0

_IN_PROCESS: Final[dict[str, int]] = {
    "DossierStepTransferred": 4,
    "DossierForwarded": 4,
    "SupplementRequested": 5,
    "FinancialObligationRequested": 6,
    "DossierSuspended": 8,
    "DossierWithdrawn": 7,
    "DossierResolved": 9,
}

TRANSITIONS: Final[dict[int | None, dict[str, int]]] = {
    None: {"DossierSubmitted": 1},
    1: {"DossierReceived": 2, "DossierIntakeRefused": 3, "DossierWithdrawn": 7},
    2: _IN_PROCESS,
    3: {},
    4: _IN_PROCESS,
    5: {"SupplementReceived": 4, "DossierWithdrawn": 7},
    6: {"PaymentCompleted": _BACK_BEFORE_PAYMENT, "DossierWithdrawn": 7},
    7: {},
    8: {"DossierResumed": 4, "DossierWithdrawn": 7},
    9: {"ResultDelivered": 10, "PaymentCompleted": _UNCHANGED},
    10: {"SatisfactionRated": _UNCHANGED},
}
"""status (None = no dossier yet) -> {event type: status after}; absent = illegal."""


def next_status(
    status: int | None, status_before_payment: int | None, event_type: str
) -> int | None:
    """The national status after `event_type` in `status`, or None if it is illegal there.

    `status_before_payment` is the status the dossier was in when
    `FinancialObligationRequested` moved it to 6 (2 or 4); `PaymentCompleted` returns there
    (4 if unknown).
    """
    table = TRANSITIONS.get(status)
    if table is None:
        return None
    target = table.get(event_type)
    if target is None:
        return None
    if target == _UNCHANGED:
        return status
    if target == _BACK_BEFORE_PAYMENT:
        return status_before_payment if status_before_payment is not None else 4
    return target


def allowed_events(status: int | None) -> tuple[str, ...]:
    """The event types allowed in `status`, in the table's order."""
    return tuple(TRANSITIONS.get(status, {}))


def describe_status(status: int | None) -> str:
    """`5 (Yêu cầu bổ sung)`, or `no dossier yet` for None — for human error reasons."""
    if status is None:
        return "no dossier yet"
    return f"{status} ({STATUS_NAMES.get(status, 'unknown')})"
