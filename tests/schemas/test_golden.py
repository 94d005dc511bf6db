"""Golden bytes for every event type, inputs that must fail, and schema evolution.

The table pins the wire format: Confluent framing (magic 0, 4-byte big-endian schema id)
and the Avro body of each sample event (`samples.sample_events`), with schema ids fixed in
the in-memory registry so the bytes are stable. If a row changes, the wire changed: that
needs a new schema version, not a new golden value.
"""

from __future__ import annotations

import dataclasses
import io
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import fastavro
import pytest

from schemas.avro_schemas import EventSchema, build_event_schema, event_schemas, subject_name
from schemas.codec import AvroCodec, schema_id_of
from schemas.errors import (
    BadValueError,
    DecodeError,
    IncompatibleSchemaError,
    IncompatibleWriterSchemaError,
    NotAvroError,
    RegistryUnavailableError,
    TruncatedRecordError,
    UnknownEnumSymbolError,
    UnknownEventTypeError,
    UnknownSchemaIdError,
)
from schemas.events import (
    CATALOGUE_TOPIC,
    DOSSIER_TOPIC,
    EVENT_TYPES,
    CatalogueEvent,
    DossierResumed,
    Event,
    Rating,
    SatisfactionRated,
    SectorDefined,
    full_name,
)
from schemas.registry import CompatibilityLevel
from schemas.registry_memory import InMemorySchemaRegistry
from tests.schemas.samples import sample_events

SAMPLES: dict[str, Event] = {type(e).TYPE: e for e in sample_events()}

# (event type, fixed schema id, framed bytes as hex)
GOLDEN: list[tuple[str, int, str]] = [
    (
        "SectorDefined",
        101,
        "00000000654830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303030310c4731342d54500280caa1bcec5b1e636174616c6f6775652d61646d696e"
        "06483536000c4731342d54501648e1bb992074e1bb8b6368",
    ),
    (
        "AgencyRegistered",
        102,
        "00000000664830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303030320c4835362e313402c099c6bcec5b1e636174616c6f6775652d61646d696e"
        "06483536000c4835362e31343e53e1bb9f2054c6b0207068c3a1702074e1bb896e682050"
        "68c3ba2059c3aa6e000206483536",
    ),
    (
        "AgencyDissolved",
        103,
        "00000000674830303030303030302d303030302d343030302d383030302d303030303030"
        "303030303033104835362e33302e350880e78cb2915c1e636174616c6f6775652d61646d"
        "696e0648353600104835362e33302e3502104835362e33302e36a49e02",
    ),
    (
        "ProcedurePublished",
        104,
        "00000000684830303030303030302d303030302d343030302d383030302d303030303030"
        "30303030303410312e3030313139330280c4dca2985c1e636174616c6f6775652d61646d"
        "696e064835360010312e30303131393328c490c4836e67206bc3bd206b6861692073696e"
        "680c4731342d5450020400020000065254e1bb9d206b68616920c491c4836e67206bc3bd"
        "206b6861692073696e68207468656f206de1baab750200264769e1baa579206368e1bba9"
        "6e672073696e680200764769e1baa5792074e1bb9d2074c3b979207468c3a26e2063e1bb"
        "a761206e67c6b0e1bb9d6920c4916920c491c4836e67206bc3bd20284343434429000200"
        "04484c75e1baad742048e1bb992074e1bb8b63682073e1bb912036302f323031342f5148"
        "31333c4e6768e1bb8b20c491e1bb8b6e68203132332f323031352f4ec4902d4350001a31"
        "3233342f51c4902d55424e44c09e02",
    ),
    (
        "ProcedureAmended",
        105,
        "00000000694830303030303030302d303030302d343030302d383030302d303030303030"
        "30303030303510312e30303131393304f4d7a3f6885d1e636174616c6f6775652d61646d"
        "696e06483536021871642d323030312d3230323010312e30303131393328c490c4836e67"
        "206bc3bd206b6861692073696e680c4731342d5450040402000200807d065254e1bb9d20"
        "6b68616920c491c4836e67206bc3bd206b6861692073696e68207468656f206de1baab75"
        "0200264769e1baa579206368e1bba96e672073696e680200764769e1baa5792074e1bb9d"
        "2074c3b979207468c3a26e2063e1bba761206e67c6b0e1bb9d6920c4916920c491c4836e"
        "67206bc3bd2028434343442900020004484c75e1baad742048e1bb992074e1bb8b636820"
        "73e1bb912036302f323031342f514831333c4e6768e1bb8b20c491e1bb8b6e6820313233"
        "2f323031352f4ec4902d4350001a323030312f51c4902d55424e44b0a102",
    ),
    (
        "ProcedureAbolished",
        106,
        "000000006a4830303030303030302d303030302d343030302d383030302d303030303030"
        "30303030303610322e3030303930380680ee9ceb9e5d1e636174616c6f6775652d61646d"
        "696e064835360010322e3030303930381a323135302f51c4902d55424e44f6a102",
    ),
    (
        "ProcedureAppliedAtAgency",
        107,
        "000000006b4830303030303030302d303030302d343030302d383030302d303030303030"
        "30303030303710312e3030313139330680aae7c6925d1e636174616c6f6775652d61646d"
        "696e064835360010312e303031313933104835362e33302e3104020001b2a102",
    ),
    (
        "ServiceLevelChanged",
        108,
        "000000006c4830303030303030302d303030302d343030302d383030302d303030303030"
        "30303030303810312e3030313139330880f4f5eab05d1e636174616c6f6775652d61646d"
        "696e064835360010312e303031313933104835362e33302e3102041a323334352f51c490"
        "2d55424e4496a202",
    ),
    (
        "OnlinePaymentConfigured",
        109,
        "000000006d4830303030303030302d303030302d343030302d383030302d303030303030"
        "30303030303910312e3030313139330a80d1d1ecb05d1e636174616c6f6775652d61646d"
        "696e064835360010312e303031313933104835362e33302e310196a202",
    ),
    (
        "DvcqgIntegrationChanged",
        110,
        "000000006e4830303030303030302d303030302d343030302d383030302d303030303030"
        "30303030313010312e3030313139330c80aeadeeb05d1e636174616c6f6775652d61646d"
        "696e064835360010312e303031313933104835362e33302e310098a202",
    ),
    (
        "ProcedureWithdrawnFromAgency",
        111,
        "000000006f4830303030303030302d303030302d343030302d383030302d303030303030"
        "30303030313110312e3030313139330e80a4b9c0c35d1e636174616c6f6775652d61646d"
        "696e064835360010312e303031313933104835362e33302e3188a302",
    ),
    (
        "WorkingCalendarPublished",
        112,
        "00000000704830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303031321a63616c656e6461722d323032310280c481c2cc5d1e636174616c6f6775"
        "652d61646d696e0648353600ca1f1688a302d8a302daa302dca302e2a302e4a302e4a402"
        "f6a402fca402f0a602f2a6020002eca30200",
    ),
    (
        "DossierSubmitted",
        113,
        "00000000714830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130314838643363326134652d356231662d346336642d396537612d3066316232"
        "6333643465356602808399b1b35d1a6d6f746375612e4835362e3134064835360010312e"
        "3030313139330c4835362e3134020000364e677579e1bb856e205468e1bb8b2048e1bb93"
        "6e67204e68756e6702183035343139303030313233340214303930353132333435360226"
        "6e68756e672e6e746840676d61696c2e636f6d",
    ),
    (
        "DossierReceived",
        114,
        "00000000724830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130324838643363326134652d356231662d346336642d396537612d3066316232"
        "6333643465356604c0a2afb5b35d1a6d6f746375612e4835362e31340648353600323030"
        "302e30302e31342e4835362d3230313130362d303030310c4835362e3134028094e190b8"
        "5d",
    ),
    (
        "DossierIntakeRefused",
        115,
        "00000000734830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130334838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535660480f2d3b5b35d1a6d6f746375612e4835362e31340648353600880148"
        "e1bb932073c6a1206b68c3b46e6720746875e1bb9963207468e1baa96d20717579e1bb81"
        "6e206769e1baa36920717579e1babf742063e1bba7612063c6a1207175616e",
    ),
    (
        "DossierStepTransferred",
        116,
        "00000000744830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130344838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535660680eef8b7b35d1a6d6f746375612e4835362e313406483536001a5469"
        "e1babf70206e68e1baad6e1c5468e1baa96d20c491e1bb8b6e68023a5068c3b26e672048"
        "c3a06e68206368c3ad6e682074c6b0207068c3a170",
    ),
    (
        "SupplementRequested",
        117,
        "00000000754830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130354838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535660880f8c8b2b55d1a6d6f746375612e4835362e31340648353600860142"
        "e1bb952073756e672062e1baa36e2073616f204769e1baa579206368e1bba96e67206e68"
        "e1baad6e206be1babf742068c3b46e2063e1bba76120636861206de1bab9",
    ),
    (
        "SupplementReceived",
        118,
        "00000000764830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130364838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535660a80f48cfeb55d1a6d6f746375612e4835362e313406483536000280e4"
        "f987ba5d",
    ),
    (
        "FinancialObligationRequested",
        119,
        "00000000774830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130374838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535660c80e4bfd0b65d1a6d6f746375612e4835362e31340648353600807d",
    ),
    (
        "PaymentCompleted",
        120,
        "00000000784830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130384838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535660eeecb8ad3b65d1a6d6f746375612e4835362e313406483536022a7061"
        "796d656e742d706c6174666f726d2d3737333100807d0228504159474f562d3230313131"
        "312d303030373331",
    ),
    (
        "DossierForwarded",
        121,
        "00000000794830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303130394838643363326134652d356231662d346336642d396537612d3066316232"
        "6333643465356610809abb9fb75d1a6d6f746375612e4835362e313406483536000c4835"
        "362e3134104835362e33302e3102",
    ),
    (
        "DossierSuspended",
        122,
        "000000007a4830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303131304838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535661280b0bfb7b75d1a6d6f746375612e4835362e31340648353600644368"
        "e1bb9d206be1babf74207175e1baa32078c3a163206d696e682063e1bba7612055424e44"
        "2078c3a320416e205068c3ba",
    ),
    (
        "DossierResumed",
        123,
        "000000007b4830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303131314838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535661480e7c9f3b75d1a6d6f746375612e4835362e31340648353600",
    ),
    (
        "DossierWithdrawn",
        124,
        "000000007c4830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303131324838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535661680c4a5f5b75d1a6d6f746375612e4835362e31340648353600025c43"
        "c3b46e672064c3a26e2078696e2072c3ba742068e1bb932073c6a120c491e1bb83206ee1"
        "bb9970206ce1baa169",
    ),
    (
        "DossierResolved",
        125,
        "000000007d4830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303131334838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535661680daa98db85d1a6d6f746375612e4835362e313406483536000001",
    ),
    (
        "ResultDelivered",
        126,
        "000000007e4830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303131344838643363326134652d356231662d346336642d396537612d3066316232"
        "63336434653566188094beecb95d1a6d6f746375612e4835362e3134064835360002",
    ),
    (
        "SatisfactionRated",
        127,
        "000000007f4830303030303030302d303030302d343030302d383030302d303030303030"
        "3030303131354838643363326134652d356231662d346336642d396537612d3066316232"
        "633364346535661a80c2e4f6b95d1a6d6f746375612e4835362e3134064835360000",
    ),
]


GOLDEN_HEX = {name: golden for name, _, golden in GOLDEN}
GOLDEN_ID = {name: schema_id for name, schema_id, _ in GOLDEN}


def _golden_registry() -> InMemorySchemaRegistry:
    registry = InMemorySchemaRegistry()
    schemas = event_schemas()
    for name, schema_id, _ in GOLDEN:
        schema = schemas[full_name(EVENT_TYPES[name])]
        registry.register_with_id(schema.subject, schema.text, schema_id)
    return registry


@pytest.fixture
def codec() -> AvroCodec:
    return AvroCodec(_golden_registry())


def test_the_table_covers_every_event_type() -> None:
    assert [name for name, _, _ in GOLDEN] == list(EVENT_TYPES)


@pytest.mark.parametrize(("name", "schema_id", "golden"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_encode_gives_the_golden_bytes(
    codec: AvroCodec, name: str, schema_id: int, golden: str
) -> None:
    event = SAMPLES[name]

    data = codec.encode(event.TOPIC, event)

    assert data.hex() == golden
    assert schema_id_of(data) == schema_id


@pytest.mark.parametrize(("name", "schema_id", "golden"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_decode_of_the_golden_bytes_gives_the_event(
    codec: AvroCodec, name: str, schema_id: int, golden: str
) -> None:
    assert codec.decode(bytes.fromhex(golden)) == SAMPLES[name]


def _zigzag(n: int) -> bytes:
    """Avro `long`: zig-zag, then base-128 little-endian varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _string(s: str) -> bytes:
    raw = s.encode()
    return _zigzag(len(raw)) + raw


def test_golden_bytes_follow_the_avro_specification_not_just_fastavro() -> None:
    # given DossierResumed (envelope only), assembled by hand from the Avro spec
    event = SAMPLES["DossierResumed"]
    assert isinstance(event, DossierResumed)
    millis = int(event.occurred_at.timestamp() * 1000)
    expected = (
        b"\x00"
        + struct.pack(">I", GOLDEN_ID["DossierResumed"])
        + _string(event.event_id)
        + _string(event.aggregate_id)
        + _zigzag(event.aggregate_seq)
        + _zigzag(millis)
        + _string(event.source_system)
        + _string(event.province_code)
        + _zigzag(0)  # union branch 0: null correlation_id
    )
    # then the golden row is exactly that
    assert GOLDEN_HEX["DossierResumed"] == expected.hex()


def test_schema_ids_are_cached_after_the_first_encode_and_decode(codec: AvroCodec) -> None:
    registry = codec.registry
    assert isinstance(registry, InMemorySchemaRegistry)
    event = SAMPLES["DossierReceived"]
    data = codec.encode(event.TOPIC, event)
    codec.decode(data)
    before = registry.requests

    for _ in range(3):
        codec.decode(codec.encode(event.TOPIC, event))

    assert registry.requests == before


def test_prepare_resolves_ids_off_the_event_loop_so_encode_needs_no_registry() -> None:
    import asyncio

    registry = _golden_registry()
    codec = AvroCodec(registry)
    types = [type(e) for e in SAMPLES.values() if e.TOPIC == DOSSIER_TOPIC]

    asyncio.run(codec.prepare(DOSSIER_TOPIC, types))
    before = registry.requests
    data = [codec.encode(DOSSIER_TOPIC, e) for e in SAMPLES.values() if e.TOPIC == DOSSIER_TOPIC]

    assert registry.requests == before
    assert [schema_id_of(d) for d in data] == [GOLDEN_ID[t.TYPE] for t in types]


class _DownRegistry(InMemorySchemaRegistry):
    def get_schema(self, schema_id: int) -> str:
        raise RegistryUnavailableError("registry down")


def test_a_registry_outage_is_not_a_decode_error_and_stops_the_batch() -> None:
    codec = AvroCodec(_DownRegistry())

    with pytest.raises(RegistryUnavailableError):
        codec.decode_batch([bytes.fromhex(GOLDEN_HEX["SectorDefined"])])


# --- inputs that must fail ---------------------------------------------------------------

_SECTOR = GOLDEN_HEX["SectorDefined"]
_RESUMED = bytes.fromhex(GOLDEN_HEX["DossierResumed"])
_SECTOR_BODY = bytes.fromhex(_SECTOR)[5:]


def _framed(schema_id: int, body: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + body


def _avro_body(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


_OTHER_RECORD: dict[str, Any] = {
    "type": "record",
    "name": "Other",
    "namespace": "vn.dvc.test",
    "fields": [{"name": "x", "type": "string"}],
}
_PLAIN_ID_SECTOR: dict[str, Any] = json.loads(
    event_schemas()[full_name(SectorDefined)].text.replace(',"logicalType":"uuid"', "")
)

BAD_INPUTS: list[tuple[str, bytes, type[DecodeError], str]] = [
    ("empty", b"", NotAvroError, "not_avro"),
    ("too short", b"\x00\x00\x00", NotAvroError, "not_avro"),
    ("json text", b'{"type": "SectorDefined"}', NotAvroError, "not_avro"),
    ("bad magic", b"\x01" + bytes.fromhex(_SECTOR)[1:], NotAvroError, "not_avro"),
    ("unknown schema id", _framed(4242, _SECTOR_BODY), UnknownSchemaIdError, "unknown_schema_id"),
    (
        "header only",
        _framed(GOLDEN_ID["SectorDefined"], b""),
        TruncatedRecordError,
        "truncated_avro",
    ),
    ("truncated body", bytes.fromhex(_SECTOR)[:-3], TruncatedRecordError, "truncated_avro"),
    ("cut inside event_id", bytes.fromhex(_SECTOR)[:20], TruncatedRecordError, "truncated_avro"),
    ("trailing bytes", bytes.fromhex(_SECTOR) + b"\x00", BadValueError, "bad_value"),
    (
        "bad union index",
        _RESUMED[:-1] + b"\x08",  # correlation_id: union branch 4 of 2
        BadValueError,
        "bad_value",
    ),
    (
        "invalid utf-8",
        _framed(
            GOLDEN_ID["SectorDefined"], _SECTOR_BODY[:-8] + b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"
        ),
        BadValueError,
        "bad_value",
    ),
    ("not an event type", _framed(900, b"\x02x"), UnknownEventTypeError, "unknown_event_type"),
    (
        "event_id not a uuid",
        _framed(
            901,
            _avro_body(
                _PLAIN_ID_SECTOR,
                {
                    "event_id": "not-a-uuid",
                    "aggregate_id": "G14-TP",
                    "aggregate_seq": 1,
                    "occurred_at": datetime(2020, 1, 2, tzinfo=UTC),
                    "source_system": "s",
                    "province_code": "H56",
                    "correlation_id": None,
                    "sector_code": "G14-TP",
                    "name": "Hộ tịch",
                },
            ),
        ),
        BadValueError,
        "bad_value",
    ),
]


@pytest.fixture
def bad_input_codec() -> AvroCodec:
    registry = _golden_registry()
    registry.register_with_id("some.topic-vn.dvc.test.Other", json.dumps(_OTHER_RECORD), 900)
    registry.register_with_id(
        subject_name("elsewhere", full_name(SectorDefined)), json.dumps(_PLAIN_ID_SECTOR), 901
    )
    return AvroCodec(registry)


@pytest.mark.parametrize(
    ("data", "error", "error_class"),
    [row[1:] for row in BAD_INPUTS],
    ids=[row[0] for row in BAD_INPUTS],
)
def test_bad_input_fails_with_its_error_class(
    bad_input_codec: AvroCodec, data: bytes, error: type[DecodeError], error_class: str
) -> None:
    with pytest.raises(error) as caught:
        bad_input_codec.decode(data)

    assert caught.value.error_class == error_class
    assert caught.value.reason


def test_library_errors_are_chained_as_the_cause(bad_input_codec: AvroCodec) -> None:
    with pytest.raises(TruncatedRecordError) as truncated:
        bad_input_codec.decode(bytes.fromhex(_SECTOR)[:-3])
    with pytest.raises(UnknownSchemaIdError) as unknown:
        bad_input_codec.decode(_framed(4242, _SECTOR_BODY))

    assert isinstance(truncated.value.__cause__, EOFError)
    assert unknown.value.__cause__ is not None


def test_decode_batch_returns_errors_in_place_and_keeps_going(
    bad_input_codec: AvroCodec,
) -> None:
    good = [bytes.fromhex(g) for _, _, g in GOLDEN[:3]]
    batch = [good[0], *(row[1] for row in BAD_INPUTS), good[1], good[2]]

    results = bad_input_codec.decode_batch(batch)

    assert results[0] == SAMPLES[GOLDEN[0][0]]
    assert [type(r) for r in results[1:-2]] == [row[2] for row in BAD_INPUTS]
    assert results[-2:] == [SAMPLES[GOLDEN[1][0]], SAMPLES[GOLDEN[2][0]]]


async def _decode_async(codec: AvroCodec, batch: list[bytes]) -> list[Event | DecodeError]:
    return await codec.decode_batch_async(batch)


def test_async_prefetch_then_decode_matches_the_sync_path() -> None:
    import asyncio

    codec = AvroCodec(_golden_registry())
    batch = [bytes.fromhex(g) for _, _, g in GOLDEN] + [b"junk"]

    results = asyncio.run(_decode_async(codec, batch))

    assert results[:-1] == [SAMPLES[n] for n, _, _ in GOLDEN]
    assert isinstance(results[-1], NotAvroError)


# --- schema evolution --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SectorDefinedV2(CatalogueEvent):
    """SectorDefined v2: adds an optional field with a default."""

    TYPE: ClassVar[str] = "SectorDefined"
    sector_code: str
    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SectorDefinedOwner(CatalogueEvent):
    """A bad v2: adds a required field without a default."""

    TYPE: ClassVar[str] = "SectorDefined"
    sector_code: str
    name: str
    owner: str


def _variant(
    event_type: type[Event], base: type[Event], extra: list[dict[str, Any]]
) -> EventSchema:
    schema = json.loads(event_schemas()[full_name(base)].text)
    schema["fields"] += extra
    return build_event_schema(event_type, schema)


V2 = _variant(
    SectorDefinedV2,
    SectorDefined,
    [{"name": "description", "type": ["null", "string"], "default": None}],
)
OWNER = _variant(SectorDefinedOwner, SectorDefined, [{"name": "owner", "type": "string"}])


def _codec(registry: InMemorySchemaRegistry, *schemas: EventSchema) -> AvroCodec:
    return AvroCodec(registry, schemas={s.full_name: s for s in schemas})


def test_v1_bytes_are_read_by_a_v2_reader_with_the_default() -> None:
    registry = InMemorySchemaRegistry(default_compatibility=CompatibilityLevel.BACKWARD_TRANSITIVE)
    v1 = SAMPLES["SectorDefined"]
    data = AvroCodec(registry).encode(CATALOGUE_TOPIC, v1)

    read = _codec(registry, V2).decode(data)

    assert isinstance(read, SectorDefinedV2)
    assert read.description is None
    assert (read.event_id, read.sector_code, read.name) == (v1.event_id, "G14-TP", "Hộ tịch")


def test_v2_bytes_are_read_by_a_v1_reader_which_skips_the_new_field() -> None:
    registry = InMemorySchemaRegistry(default_compatibility=CompatibilityLevel.BACKWARD_TRANSITIVE)
    v1 = SAMPLES["SectorDefined"]
    AvroCodec(registry).encode(CATALOGUE_TOPIC, v1)  # v1 registered first
    fields = {f.name: getattr(v1, f.name) for f in dataclasses.fields(v1)}
    data = _codec(registry, V2).encode(
        CATALOGUE_TOPIC, SectorDefinedV2(**fields, description="Lĩnh vực hộ tịch")
    )

    read = AvroCodec(registry).decode(data)

    assert read == v1
    assert registry.versions(subject_name(CATALOGUE_TOPIC, full_name(SectorDefined))) == [1, 2]


def test_a_new_field_without_default_is_rejected_by_the_registry_naming_the_subject() -> None:
    registry = InMemorySchemaRegistry(default_compatibility=CompatibilityLevel.BACKWARD_TRANSITIVE)
    AvroCodec(registry).encode(CATALOGUE_TOPIC, SAMPLES["SectorDefined"])
    fields = {
        f.name: getattr(SAMPLES["SectorDefined"], f.name) for f in dataclasses.fields(SectorDefined)
    }

    with pytest.raises(IncompatibleSchemaError) as caught:
        _codec(registry, OWNER).encode(CATALOGUE_TOPIC, SectorDefinedOwner(**fields, owner="x"))

    subject = subject_name(CATALOGUE_TOPIC, full_name(SectorDefined))
    assert caught.value.subject == subject
    assert subject in str(caught.value)
    assert "owner" in str(caught.value)


def test_v1_bytes_cannot_be_read_by_a_reader_that_added_a_field_without_default() -> None:
    registry = InMemorySchemaRegistry()  # NONE: the registry lets it through
    data = AvroCodec(registry).encode(CATALOGUE_TOPIC, SAMPLES["SectorDefined"])

    with pytest.raises(IncompatibleWriterSchemaError) as caught:
        _codec(registry, OWNER).decode(data)

    assert caught.value.error_class == "incompatible_writer_schema"
    assert "owner" in caught.value.reason


def _rating_variant(symbols: list[str]) -> EventSchema:
    schema = json.loads(event_schemas()[full_name(SatisfactionRated)].text)
    rating = next(f for f in schema["fields"] if f["name"] == "rating")
    rating["type"]["symbols"] = symbols
    return build_event_schema(SatisfactionRated, schema)


class _RatingWithExcellent(str):
    """A symbol today's `Rating` lacks, accepted by a writer whose schema has it."""


def test_an_unknown_enum_symbol_from_a_newer_writer_fails_with_its_class() -> None:
    # given a writer schema with an extra symbol, registered under an id
    registry = InMemorySchemaRegistry()
    newer = _rating_variant([*(r.value for r in Rating), "EXCELLENT"])
    subject = subject_name(DOSSIER_TOPIC, newer.full_name)
    registry.register_with_id(subject, newer.text, 77)
    record = {
        f.name: getattr(SAMPLES["SatisfactionRated"], f.name)
        for f in dataclasses.fields(SatisfactionRated)
    }
    with_excellent = _framed(
        77, _avro_body(json.loads(newer.text), {**record, "rating": "EXCELLENT"})
    )
    with_known = _framed(77, _avro_body(json.loads(newer.text), record))
    codec = AvroCodec(registry)

    # when today's reader decodes both
    results = codec.decode_batch([with_excellent, with_known])

    # then the unknown symbol is an unknown_enum_symbol error, the known one decodes
    assert isinstance(results[0], UnknownEnumSymbolError)
    assert results[0].error_class == "unknown_enum_symbol"
    assert "EXCELLENT" in results[0].reason
    assert results[1] == SAMPLES["SatisfactionRated"]


def test_removing_an_enum_symbol_is_rejected_under_backward_transitive() -> None:
    registry = InMemorySchemaRegistry(default_compatibility=CompatibilityLevel.BACKWARD_TRANSITIVE)
    AvroCodec(registry).encode(DOSSIER_TOPIC, SAMPLES["SatisfactionRated"])
    fewer = _rating_variant(["VERY_SATISFIED", "SATISFIED", "DISSATISFIED"])

    with pytest.raises(IncompatibleSchemaError) as caught:
        registry.register(subject_name(DOSSIER_TOPIC, fewer.full_name), fewer.text)

    assert "NEUTRAL" in str(caught.value)
