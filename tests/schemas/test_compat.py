"""Avro compatibility rules (`schemas.compat`), as the registry applies them."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.compat import check, problems


def _record(*fields: dict[str, Any], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields)}


def _enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "E", "namespace": "t", "symbols": list(symbols), **extra}


def _array(items: Any) -> dict[str, Any]:
    return {"type": "array", "items": items}


A = {"name": "a", "type": "string"}
A_LONG = {"name": "a", "type": "long"}
A_INT = {"name": "a", "type": "int"}
A_NULLABLE = {"name": "a", "type": ["null", "string"], "default": None}
TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}
B_DEFAULT = {"name": "b", "type": "int", "default": 1}
B = {"name": "b", "type": "int"}

# (case, reader, writer, readable)
CASES: list[tuple[str, Any, Any, bool]] = [
    ("same", _record(A), _record(A), True),
    ("added field with default", _record(A, B_DEFAULT), _record(A), True),
    ("added field without default", _record(A, B), _record(A), False),
    ("removed field", _record(A), _record(A, B), True),
    ("int promoted to long", _record(A_LONG), _record(A_INT), True),
    ("long narrowed to int", _record(A_INT), _record(A_LONG), False),
    ("string to bytes", "bytes", "string", True),
    ("renamed record", _record(A, name="S"), _record(A), False),
    ("enum gained a symbol", _enum("X", "Y", "Z"), _enum("X", "Y"), True),
    ("enum lost a symbol", _enum("X"), _enum("X", "Y"), False),
    ("enum lost a symbol, reader default", _enum("X", default="X"), _enum("X", "Y"), True),
    ("field made nullable", _record(A_NULLABLE), _record(A), True),
    ("nullable made required", _record(A), _record(A_NULLABLE), False),
    ("logical type over its base", TIMESTAMP, "long", True),
    ("array items promoted", _array("long"), _array("int"), True),
    (
        "named reference resolved",
        _record({"name": "e", "type": _enum("X", "Y")}, {"name": "f", "type": "t.E"}),
        _record({"name": "e", "type": _enum("X", "Y")}, {"name": "f", "type": "t.E"}),
        True,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("reader", "writer", "readable"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_reader_can_read_writer_per_the_avro_rules(
    reader: Any, writer: Any, readable: bool
) -> None:
    found = problems(reader, writer)
    assert (not found) is readable, found


def test_problems_name_the_field_and_its_path() -> None:
    found = problems(_record(A, B), _record(A))
    assert found == ["/fields/1: field 'b' has no default and the writer schema does not have it"]


def test_backward_checks_the_latest_version_only_and_transitive_checks_all() -> None:
    v1, v2, v3 = _record(A), _record(A, B_DEFAULT), _record(A, B)

    assert check("BACKWARD", v3, [v1, v2]) == []
    assert check("BACKWARD_TRANSITIVE", v3, [v1, v2]) == [
        "reading version 1: /fields/1: field 'b' has no default and the writer schema does not "
        "have it"
    ]


def test_forward_and_full_check_the_other_direction() -> None:
    # FORWARD: the old reader must read the new data
    assert check("FORWARD", _record(A, B), [_record(A)]) == []
    assert check("FORWARD", _record(A), [_record(A, B)]) != []
    # FULL: both ways
    assert check("FULL", _record(A, B_DEFAULT), [_record(A)]) == []
    assert check("FULL", _record(A, B), [_record(A)]) != []
    assert check("NONE", _record(A, B), [_record(A)]) == []


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="SIDEWAYS"):
        check("SIDEWAYS", "int", ["int"])
