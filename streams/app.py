"""The faust app, configured for database-owned positions.

Faust normally resumes each partition from Kafka's committed offset. Our positions live in
the projection store, written in the same transaction as the rows (DESIGN.md, principle
2), so the consumer here seeks to *those* on every partition assignment: faust calls
`seek_to_committed` right after a rebalance, and our consumer thread answers it by asking
the `PositionSource` — which also claims the partitions in the store, fencing any stale
worker that still believes it owns them. Kafka's committed offsets are then only advisory
(faust keeps committing them; nothing reads them back).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

__all__ = ["PositionSource", "create_app"]

PositionSource = Callable[[Set[tuple[str, int]]], Mapping[tuple[str, int], int]]
"""Given the assigned (topic, partition)s, claim them and return the offsets to seek to."""


class _PositionSeekingThread(faust_aiokafka.AIOKafkaConsumerThread):
    position_source: PositionSource

    async def seek_to_committed(self) -> Mapping[TP, int]:
        # Called from faust's side (the app's loop, after a rebalance), not from this
        # consumer thread. aiokafka is not thread-safe: seeking from here races the
        # fetcher, which may be resetting the same partition to Kafka's committed offset
        # at that moment; its `reset_to` then fails an assertion, the fetcher task dies
        # and the worker silently never fetches again. So, like faust's own
        # `seek_to_committed`, the seeks run on the consumer's thread (`call_thread`).
        consumer = self._ensure_consumer()
        assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        positions = self.position_source(assigned)
        seeked: Mapping[TP, int] = await self.call_thread(self._seek_to, positions)
        return seeked

    async def _seek_to(self, positions: Mapping[tuple[str, int], int]) -> dict[TP, int]:
        consumer = self._ensure_consumer()
        seeked: dict[TP, int] = {}
        for tp in consumer.assignment():
            offset = positions.get((tp.topic, tp.partition), 0)
            consumer.seek(tp, offset)
            seeked[TP(tp.topic, tp.partition)] = offset
        return seeked


def _transport_for(position_source: PositionSource) -> type[Any]:
    thread_class = type(
        "PositionSeekingThread",
        (_PositionSeekingThread,),
        {"position_source": staticmethod(position_source)},
    )

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> Any:
            return thread_class(self, loop=self.loop, beacon=self.beacon)

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


class _App(faust.App):
    position_source: PositionSource
    stop_hooks: list[Callable[[], Awaitable[None]]]

    async def on_stop(self) -> None:
        for hook in self.stop_hooks:
            await hook()
        await super().on_stop()

    def _new_transport(self) -> Any:
        transport_class = _transport_for(self.position_source)
        return transport_class(self.conf.broker_consumer, self)


def create_app(
    *,
    bootstrap: str,
    group_id: str,
    position_source: PositionSource,
    session_timeout_s: float = 10.0,
    stop_hooks: Sequence[Callable[[], Awaitable[None]]] = (),
) -> faust.App:
    """A faust app with raw topics, no web server, no tables, positions from the store."""
    app = _App(
        group_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session_timeout_s,
        broker_heartbeat_interval=session_timeout_s / 4,
        stream_wait_empty=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    app.position_source = position_source
    app.stop_hooks = list(stop_hooks)
    return app
