"""The CONTRACT's transition table, written out again here and checked exhaustively."""

from __future__ import annotations

import pytest

from projections.lifecycle import FINAL_STATUSES, allowed_events, describe_status, next_status
from schemas.events import DOSSIER_EVENT_TYPES

IN_PROCESS = {
    "DossierStepTransferred": 4, "DossierForwarded": 4, "SupplementRequested": 5,
    "FinancialObligationRequested": 6, "DossierSuspended": 8, "DossierWithdrawn": 7,
    "DossierResolved": 9,
}
# (status before, event) -> status after, from CONTRACT.md "Allowed transitions".
# PaymentCompleted in 6 is checked separately (it depends on the status before 6).
ALLOWED: dict[tuple[int | None, str], int] = {
    (None, "DossierSubmitted"): 1,
    (1, "DossierReceived"): 2, (1, "DossierIntakeRefused"): 3, (1, "DossierWithdrawn"): 7,
    **{(2, e): s for e, s in IN_PROCESS.items()},
    **{(4, e): s for e, s in IN_PROCESS.items()},
    (5, "SupplementReceived"): 4, (5, "DossierWithdrawn"): 7,
    (6, "DossierWithdrawn"): 7,
    (8, "DossierResumed"): 4, (8, "DossierWithdrawn"): 7,
    (9, "ResultDelivered"): 10, (9, "PaymentCompleted"): 9,
    (10, "SatisfactionRated"): 10,
}
STATUSES: list[int | None] = [None, *range(1, 11)]
EVENT_TYPES = [cls.TYPE for cls in DOSSIER_EVENT_TYPES]
ILLEGAL = [
    (status, event) for status in STATUSES for event in EVENT_TYPES
    if (status, event) not in ALLOWED and (status, event) != (6, "PaymentCompleted")
]


@pytest.mark.parametrize(("status", "event", "after"),
                         [(s, e, a) for (s, e), a in ALLOWED.items()])
def test_every_allowed_transition(status: int | None, event: str, after: int) -> None:
    assert next_status(status, None, event) == after


@pytest.mark.parametrize("before", [2, 4])
def test_payment_in_6_returns_to_the_status_before_6(before: int) -> None:
    assert next_status(6, before, "PaymentCompleted") == before


def test_payment_in_6_without_a_known_status_before_goes_to_4() -> None:
    assert next_status(6, None, "PaymentCompleted") == 4


def test_payment_after_resolution_leaves_9() -> None:
    assert next_status(9, 4, "PaymentCompleted") == 9


@pytest.mark.parametrize(("status", "event"), ILLEGAL)
def test_everything_else_is_illegal(status: int | None, event: str) -> None:
    assert next_status(status, 4, event) is None


def test_the_illegal_table_is_not_empty_and_covers_finals() -> None:
    assert len(ILLEGAL) == len(STATUSES) * len(EVENT_TYPES) - len(ALLOWED) - 1
    for final in (3, 7):
        assert all((final, e) in ILLEGAL for e in EVENT_TYPES)


def test_3_and_7_are_final() -> None:
    assert frozenset({3, 7}) == FINAL_STATUSES
    assert allowed_events(3) == allowed_events(7) == ()


def test_satisfaction_is_rated_only_after_delivery() -> None:
    rated_in = [s for s in STATUSES if next_status(s, None, "SatisfactionRated") is not None]
    assert rated_in == [10]


def test_status_descriptions_name_the_national_status() -> None:
    assert describe_status(5) == "5 (Yêu cầu bổ sung)"
    assert describe_status(None) == "no dossier yet"
