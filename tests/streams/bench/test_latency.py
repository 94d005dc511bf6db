"""`streams.bench.latency`, the pure parts: nearest-rank percentiles, latencies from a send log
and a poll log, and the held-back tail of a generated province (no broker, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.workload import WorkloadSpec, generate
from schemas.events import CATALOGUE_TOPIC, EVENT_TYPES
from streams.bench.latency import (
    LatencyError,
    LatencyFigures,
    Poll,
    Sent,
    achieved_rate,
    latency_figures,
    percentile,
    split_for_latency,
    unseen,
    visibility_latencies,
)
from streams.bench.model import Latency

D = "dossier.events"

# --- percentile ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        (list(range(1, 101)), 50, 50),
        (list(range(1, 101)), 99, 99),
        (list(range(1, 101)), 100, 100),
        (list(range(1, 101)), 0, 1),
        (list(range(1, 1001)), 99.9, 999),  # no float drift past the exact rank
        ([10.0, 20.0, 30.0], 50, 20.0),
        ([10.0, 20.0, 30.0, 40.0], 50, 20.0),  # nearest rank: no interpolation
        ([10.0, 20.0, 30.0, 40.0], 51, 30.0),
        ([10.0, 20.0, 30.0, 40.0], 99, 40.0),
        ([7.0], 99, 7.0),
    ],
)
def test_percentile_is_the_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


@pytest.mark.parametrize(
    ("values", "q", "message"),
    [([], 50, "no values"), ([1.0], 101, r"within \[0, 100\]"), ([1.0], -1, "within"),
     ([2.0, 1.0], 50, "sorted")],
)
def test_percentile_refuses_bad_input(values: list[float], q: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        percentile(values, q)


# --- visibility ----------------------------------------------------------------------------


def _polls(*rows: tuple[float, dict[tuple[str, int], int]]) -> list[Poll]:
    return [Poll(at, positions) for at, positions in rows]


def test_a_record_is_visible_at_the_first_poll_past_its_offset() -> None:
    # given records at offsets 0 and 1 of partition 0 and offset 0 of partition 1
    sends = [Sent(D, 0, 0, 10.00), Sent(D, 1, 0, 10.01), Sent(D, 0, 1, 10.02)]
    # and polls where partition 0 reaches 1 (offset 0 done), then 2; partition 1 only later
    polls = _polls(
        (10.000, {}),
        (10.005, {(D, 0): 0}),  # claimed, nothing applied
        (10.015, {(D, 0): 1}),
        (10.025, {(D, 0): 1, (D, 1): 0}),
        (10.035, {(D, 0): 2, (D, 1): 1}),
    )

    latencies = visibility_latencies(sends, polls)

    assert latencies == pytest.approx([0.015, 0.025, 0.015])


def test_a_position_that_goes_back_does_not_hide_a_record_again() -> None:
    sends = [Sent(D, 0, 4, 1.0)]
    polls = _polls((1.5, {(D, 0): 5}), (1.6, {(D, 0): 3}), (1.7, {(D, 0): 5}))

    assert visibility_latencies(sends, polls) == pytest.approx([0.5])


def test_records_never_visible_are_counted_by_partition() -> None:
    sends = [Sent(D, 0, 0, 1.0), Sent(D, 0, 1, 1.0), Sent(D, 2, 0, 1.0)]
    polls = _polls((2.0, {(D, 0): 1}))

    with pytest.raises(LatencyError, match=r"2 of 3 records were never visible "
                                           r"\(dossier.events\[0\]: 1, dossier.events\[2\]: 1\)"):
        visibility_latencies(sends, polls)


def test_a_record_stored_before_it_was_sent_means_stale_positions() -> None:
    sends = [Sent(D, 0, 3, 5.0)]
    polls = _polls((4.0, {(D, 0): 100}))

    with pytest.raises(LatencyError, match=r"offset 3 was stored before it was sent"):
        visibility_latencies(sends, polls)


def test_polls_out_of_time_order_are_refused() -> None:
    with pytest.raises(ValueError, match="time order"):
        visibility_latencies([Sent(D, 0, 0, 0.0)], _polls((2.0, {}), (1.0, {})))


def test_unseen_counts_records_the_positions_do_not_cover() -> None:
    sends = [Sent(D, 0, 0, 0.0), Sent(D, 0, 1, 0.0), Sent(D, 1, 0, 0.0)]

    assert unseen(sends, {}) == 3
    assert unseen(sends, {(D, 0): 1}) == 2
    assert unseen(sends, {(D, 0): 2, (D, 1): 1}) == 0


# --- figures -------------------------------------------------------------------------------


def test_achieved_rate_is_over_the_span_of_the_sends() -> None:
    sends = [Sent(D, 0, i, 100.0 + i * 0.0125) for i in range(5)]  # 4 gaps in 0.05 s

    assert achieved_rate(sends, 100.0) == pytest.approx(80.0)
    assert achieved_rate(sends[:1], 100.0) == 100.0


def test_latency_figures_in_milliseconds() -> None:
    # given 100 records, record i seen (i + 1) ms after it was sent
    sends = [Sent(D, 0, i, float(i)) for i in range(100)]
    polls = [Poll(i + (i + 1) / 1000, {(D, 0): i + 1}) for i in range(100)]

    figures = latency_figures(100.0, sends, polls, poll_ms=5.0)

    assert figures == LatencyFigures(rate=100.0, achieved_rate=pytest.approx(1.0), events=100,
                                     p50_ms=pytest.approx(50.0), p99_ms=pytest.approx(99.0),
                                     max_ms=pytest.approx(100.0), poll_ms=5.0)
    assert figures.to_latency("sqlite") == Latency(
        "sqlite", 100.0, figures.achieved_rate, 100, figures.p50_ms, figures.p99_ms,
        figures.max_ms, 5.0)


# --- the held-back tail --------------------------------------------------------------------


def _events(catalogue: int, dossier: int) -> list[dict[str, Any]]:
    return ([{"type": "SectorDefined", "n": i} for i in range(catalogue)]
            + [{"type": "DossierReceived", "n": catalogue + i} for i in range(dossier)])


def test_the_tail_is_split_into_one_chunk_per_rate_in_order() -> None:
    events = _events(5, 50)

    head, chunks = split_for_latency(events, [10.0, 20.0, 2.5], seconds=1.0)

    assert [len(c) for c in chunks] == [10, 20, 2]  # round(2.5) == 2
    assert head == events[:23]
    assert [e for c in chunks for e in c] == events[23:]


def test_a_generated_provinces_tail_holds_only_dossier_events_in_order() -> None:
    events = list(generate(WorkloadSpec(seed=3, dossiers=40, procedures=40, departments=3,
                                        communes=3)))

    head, [tail] = split_for_latency(events, [100.0], seconds=2.0)

    assert len(tail) == 200
    assert head + tail == events
    assert all(EVENT_TYPES[e["type"]].TOPIC != CATALOGUE_TOPIC for e in tail)
    seqs: dict[str, int] = {}
    for e in head + tail:  # each aggregate's events still come in sequence order
        assert e["aggregate_seq"] > seqs.get(e["aggregate_id"], 0)
        seqs[e["aggregate_id"]] = e["aggregate_seq"]


@pytest.mark.parametrize(
    ("events", "rates", "seconds", "message"),
    [
        (_events(5, 10), [11.0], 1.0, r"reaches into the catalogue \(event 4, a SectorDefined"),
        (_events(0, 10), [10.0], 1.0, "leaves none of the 10"),
        (_events(0, 10), [5.0, 0.2], 1.0, r"at least one event .* give \[5, 0\]"),
        (_events(0, 10), [], 1.0, "at least one event"),
        (_events(0, 10), [1.0], 0.0, "seconds must be positive"),
        ([*_events(0, 5), {"type": "Nope"}], [1.0], 1.0, "event 5: unknown type 'Nope'"),
    ],
)
def test_a_tail_that_cannot_be_held_back_is_refused(
    events: list[dict[str, Any]], rates: list[float], seconds: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        split_for_latency(events, rates, seconds)
