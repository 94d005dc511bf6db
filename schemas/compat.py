"""Avro schema compatibility by the specification's resolution rules, without I/O.

Used by the in-memory registry (which must reject what a real registry rejects) and to
explain an incompatibility when the real registry only answers `is_compatible: false`
(Apicurio's ccompat API returns no messages). `problems(reader, writer)` lists why data
written with `writer` cannot be read with `reader`; an empty list means it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["LEVELS", "check", "problems"]

LEVELS: Final[frozenset[str]] = frozenset(
    {
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    }
)
_PRIMITIVES: Final[frozenset[str]] = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)
_PROMOTIONS: Final[dict[str, frozenset[str]]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


def _named_types(schema: Any) -> dict[str, Mapping[str, Any]]:
    """Every named type defined in `schema`, by full name."""
    found: dict[str, Mapping[str, Any]] = {}

    def walk(node: Any, namespace: str) -> None:
        if isinstance(node, list):
            for branch in node:
                walk(branch, namespace)
            return
        if not isinstance(node, Mapping):
            return
        kind = node.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            name = str(node["name"])
            ns = name.rsplit(".", 1)[0] if "." in name else str(node.get("namespace", namespace))
            full = name if "." in name else (f"{ns}.{name}" if ns else name)
            found[full] = node
            for field in node.get("fields", ()):
                walk(field["type"], ns)
        elif kind == "array":
            walk(node["items"], namespace)
        elif kind == "map":
            walk(node["values"], namespace)
        elif isinstance(kind, (Mapping, list)):
            walk(kind, namespace)

    walk(schema, "")
    return found


class _Resolver:
    def __init__(self, reader: Any, writer: Any) -> None:
        self._names = (_named_types(reader), _named_types(writer))
        self._active: set[tuple[int, int]] = set()  # pairs being checked (recursion guard)

    def _deref(self, node: Any, side: int) -> Any:
        """Named references resolved, wrappers unwrapped, logical types to base types."""
        while True:
            if isinstance(node, str) and node not in _PRIMITIVES:
                names = self._names[side]
                match = names.get(node) or next(
                    (v for k, v in names.items() if k.rsplit(".", 1)[-1] == node), None
                )
                if match is None:
                    return node
                node = match
            elif isinstance(node, Mapping) and (
                node["type"] in _PRIMITIVES or not isinstance(node["type"], str)
            ):
                node = node["type"]
            elif isinstance(node, Mapping) and node["type"] not in (
                "record",
                "error",
                "enum",
                "fixed",
                "array",
                "map",
            ):
                node = node["type"]  # {"type": "<named reference>"}
            else:
                return node

    @staticmethod
    def _kind(node: Any) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            return "union"
        return str(node["type"])

    @staticmethod
    def _short(node: Mapping[str, Any]) -> str:
        return str(node["name"]).rsplit(".", 1)[-1]

    def check(self, reader: Any, writer: Any, path: str) -> list[str]:
        reader, writer = self._deref(reader, 0), self._deref(writer, 1)
        key = (id(reader), id(writer))
        if key in self._active:
            return []  # recursive type: assume compatible while the outer check runs
        self._active.add(key)
        try:
            return self._check(reader, writer, path)
        finally:
            self._active.discard(key)

    def _check(self, reader: Any, writer: Any, path: str) -> list[str]:
        rk, wk = self._kind(reader), self._kind(writer)
        if wk == "union":
            out: list[str] = []
            for i, branch in enumerate(writer):
                out += self.check(reader, branch, f"{path}/{i}")
            return out
        if rk == "union":
            if any(not self.check(branch, writer, path) for branch in reader):
                return []
            return [f"{path or '/'}: writer type {wk} matches no branch of the reader union"]
        if rk != wk:
            if rk in _PROMOTIONS.get(wk, frozenset()):
                return []
            return [f"{path or '/'}: reader type {rk} cannot read writer type {wk}"]
        if rk == "record":
            return self._record(reader, writer, path)
        if rk == "enum":
            return self._enum(reader, writer, path)
        if rk == "array":
            return self.check(reader["items"], writer["items"], f"{path}/items")
        if rk == "map":
            return self.check(reader["values"], writer["values"], f"{path}/values")
        if rk == "fixed" and (
            self._short(reader) != self._short(writer) or reader["size"] != writer["size"]
        ):
            return [f"{path or '/'}: fixed types differ in name or size"]
        return []

    def _record(self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str) -> list[str]:
        aliases = {str(a).rsplit(".", 1)[-1] for a in reader.get("aliases", ())}
        if self._short(reader) != self._short(writer) and self._short(writer) not in aliases:
            return [f"{path or '/'}: record {reader['name']} cannot read record {writer['name']}"]
        written = {str(f["name"]): f for f in writer["fields"]}
        out: list[str] = []
        for i, field in enumerate(reader["fields"]):
            names = [str(field["name"]), *(str(a) for a in field.get("aliases", ()))]
            match = next((written[n] for n in names if n in written), None)
            if match is not None:
                out += self.check(field["type"], match["type"], f"{path}/fields/{i}")
            elif "default" not in field:
                out.append(
                    f"{path}/fields/{i}: field {field['name']!r} has no default and the "
                    "writer schema does not have it"
                )
        return out

    def _enum(self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str) -> list[str]:
        if self._short(reader) != self._short(writer):
            return [f"{path or '/'}: enum {reader['name']} cannot read enum {writer['name']}"]
        missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if missing and "default" not in reader:
            return [f"{path}/symbols: enum {reader['name']} lacks the writer's symbols {missing}"]
        return []


def problems(reader: Any, writer: Any) -> list[str]:
    """Why data written with `writer` cannot be read with `reader` (empty: it can)."""
    return _Resolver(reader, writer).check(reader, writer, "")


def check(level: str, new: Any, registered: Sequence[Any]) -> list[str]:
    """Problems of registering `new` after `registered` (oldest first) under `level`."""
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}")
    if level == "NONE" or not registered:
        return []
    versions = list(enumerate(registered, start=1))
    if not level.endswith("_TRANSITIVE"):
        versions = versions[-1:]
    out: list[str] = []
    for number, old in versions:
        if level.startswith(("BACKWARD", "FULL")):
            out += [f"reading version {number}: {p}" for p in problems(new, old)]
        if level.startswith(("FORWARD", "FULL")):
            out += [f"read by version {number}: {p}" for p in problems(old, new)]
    return out
