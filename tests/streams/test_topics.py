"""The contract's topic specs and the mismatch check (no broker; see tests/e2e/test_wire.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings
from streams.topics import TopicMismatchError, _problems, contract_topics, dlq_topic

GOOD = {"retention.ms": "-1", "cleanup.policy": "delete"}


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path, kafka_bootstrap=None, schema_registry_url=None, database_url="sqlite://"
    )


def test_the_contract_topics_their_partitions_and_configs(tmp_path: Path) -> None:
    specs = {s.name: s for s in contract_topics(_settings(tmp_path))}

    assert {n: s.partitions for n, s in specs.items()} == {
        "catalogue.events": 3,
        "dossier.events": 12,
        "catalogue.events.dlq": 1,
        "dossier.events.dlq": 1,
    }
    assert all(dict(s.configs) == GOOD and s.replication_factor == 1 for s in specs.values())
    assert dlq_topic("dossier.events") == "dossier.events.dlq"


def test_matching_topics_have_no_problems(tmp_path: Path) -> None:
    specs = contract_topics(_settings(tmp_path))

    assert (
        _problems(specs, {s.name: s.partitions for s in specs}, {s.name: GOOD for s in specs}) == []
    )


def test_wrong_partitions_and_compaction_are_each_reported(tmp_path: Path) -> None:
    specs = contract_topics(_settings(tmp_path))
    partitions = {s.name: s.partitions for s in specs} | {"dossier.events": 6}
    configs = {s.name: GOOD for s in specs} | {
        "catalogue.events": {"retention.ms": "604800000", "cleanup.policy": "compact"}
    }

    problems = _problems(specs, partitions, configs)

    assert problems == [
        "catalogue.events: retention.ms='604800000', the contract wants '-1'",
        "catalogue.events: cleanup.policy='compact', the contract wants 'delete'",
        "dossier.events: has 6 partitions, the contract wants 12 "
        "(recreate it or set ONESTOP_*_PARTITIONS to match)",
    ]
    with pytest.raises(TopicMismatchError, match=r"dossier\.events: has 6 partitions"):
        raise TopicMismatchError(problems)
