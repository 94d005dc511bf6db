"""The worker's re-batching (`coalesce`) and its catch-up test (`caught_up`), without Kafka.

`coalesce` is driven by real async generators standing in for faust's `take_events`: batches
pass straight through while not lagging, are joined up to a size or a time limit while
lagging, keep their order, are never held back at the end, and the next batch is asked for
while the caller still works on the current one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest

from streams.worker import caught_up, coalesce


async def _source(batches: Sequence[Sequence[int]], *, pause_s: float = 0.0,
                  asked: list[float] | None = None) -> AsyncIterator[list[int]]:
    for index, batch in enumerate(batches):
        if asked is not None:
            asked.append(time.monotonic())
        if index and pause_s:
            await asyncio.sleep(pause_s)
        yield list(batch)


async def _collect(source: AsyncIterator[list[int]], *, lagging: bool, max_size: int = 100,
                   max_wait_s: float = 5.0) -> list[list[int]]:
    return [batch async for batch in coalesce(
        source, lagging=lambda _batch: lagging, max_size=max_size, max_wait_s=max_wait_s)]


def test_batches_pass_through_unchanged_when_not_lagging() -> None:
    batches = [[1, 2], [3], [4, 5, 6]]
    assert asyncio.run(_collect(_source(batches), lagging=False)) == batches


def test_lagging_batches_are_joined_up_to_max_size_in_order() -> None:
    batches = [[1, 2], [3, 4], [5, 6], [7, 8], [9]]
    out = asyncio.run(_collect(_source(batches), lagging=True, max_size=4))
    assert out == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]


def test_joining_stops_at_the_first_batch_that_does_not_lag() -> None:
    batches = [[1], [2], [3, 99], [4]]

    async def run() -> list[list[int]]:
        return [b async for b in coalesce(
            _source(batches), lagging=lambda batch: 99 not in batch, max_size=100,
            max_wait_s=5.0)]

    assert asyncio.run(run()) == [[1, 2, 3, 99], [4]]


def test_a_lagging_batch_is_handed_out_after_max_wait_even_if_the_source_stalls() -> None:
    async def run() -> tuple[list[int], float]:
        started = time.monotonic()
        stream = coalesce(_source([[1, 2], [3]], pause_s=2.0), lagging=lambda _b: True,
                          max_size=100, max_wait_s=0.1)
        first = await anext(stream)
        waited = time.monotonic() - started
        await stream.aclose()
        return first, waited

    first, waited = asyncio.run(run())
    assert first == [1, 2]
    assert 0.1 <= waited < 1.0


def test_the_next_batch_is_asked_for_while_the_caller_works() -> None:
    asked: list[float] = []
    done: list[float] = []

    async def run() -> None:
        async for _batch in coalesce(_source([[1], [2], [3]], asked=asked),
                                     lagging=lambda _b: False, max_size=10, max_wait_s=1.0):
            await asyncio.sleep(0.05)  # the caller's work on the batch
            done.append(time.monotonic())

    asyncio.run(run())
    assert len(asked) == 3 and len(done) == 3
    assert asked[1] < done[0] and asked[2] < done[1]


def test_closing_early_stops_the_source() -> None:
    finished: list[bool] = []

    async def source() -> AsyncIterator[list[int]]:
        try:
            yield [1]
            await asyncio.sleep(10)
            yield [2]
        finally:
            finished.append(True)

    async def run() -> list[int]:
        stream = coalesce(source(), lagging=lambda _b: False, max_size=10, max_wait_s=1.0)
        first = await anext(stream)
        await stream.aclose()
        return first

    started = time.monotonic()
    assert asyncio.run(run()) == [1]
    assert finished == [True]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("max_size", "max_wait_s"), [(0, 1.0), (10, -1.0)])
def test_bad_limits_are_refused(max_size: int, max_wait_s: float) -> None:
    with pytest.raises(ValueError, match="coalesce needs"):
        asyncio.run(_collect(_source([[1]]), lagging=False, max_size=max_size,
                             max_wait_s=max_wait_s))


def test_caught_up_needs_every_projection_at_every_end() -> None:
    ends = {("catalogue.events", 0): 5, ("catalogue.events", 1): 3}
    assert caught_up({"portal": dict(ends), "stats": {**ends, ("dossier.events", 0): 9}}, ends)
    assert not caught_up({"portal": dict(ends), "stats": {("catalogue.events", 0): 5}}, ends)
    assert not caught_up({"portal": {**ends, ("catalogue.events", 1): 2}}, ends)
    assert caught_up({"portal": {}}, {})
