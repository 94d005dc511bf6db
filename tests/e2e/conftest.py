"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.helpers import Cli, exclusive_topics

if TYPE_CHECKING:
    from streams.infra import Services


@pytest.fixture
def cli(services: Services, database_url: str, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on this test's database and consumer group, on freshly recreated topics."""
    with exclusive_topics(services):
        yield Cli(services, database_url, tmp_path)
