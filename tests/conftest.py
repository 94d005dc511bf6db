"""Shared fixtures: the real local stack (`services`) and a store URL per back-end.

- `services` (session): Kafka + Apicurio + PostgreSQL started under `<project>/.onestop/test`
  and stopped at the end of the session. With `ONESTOP_TEST_REUSE=1` the stack of the default
  home (`onestop infra up`, `<project>/.onestop` or `$ONESTOP_HOME`) is used instead, started
  if needed and left running. If another test session already holds `.onestop/test`, this one
  uses `.onestop/test-<pid>` so the two never stop each other's services.
- `database_url`: parametrised `sqlite` (a file in tmp_path) and `postgresql` (a fresh database
  in the session cluster, dropped afterwards; marked `e2e`).

Tests under `tests/e2e/` and tests using `services` are marked `e2e` automatically, so
`pytest -m "not e2e"` runs without starting anything.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

if TYPE_CHECKING:
    from streams.infra import Services

# pytest's default ("prepend") import mode put this directory on sys.path to import this file.
# There, tests/schemas, tests/streams, ... (no __init__.py) would shadow the real packages of
# the same names as namespace packages. Take it off again before anything imports them.
_TESTS_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != _TESTS_DIR]

PROJECT_ROOT = _TESTS_DIR.parent
ONESTOP_DIR = PROJECT_ROOT / ".onestop"
SHARED_CACHE = ONESTOP_DIR / "cache"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    e2e_dir = Path(__file__).parent / "e2e"
    for item in items:
        in_e2e = Path(str(item.path)).is_relative_to(e2e_dir)
        if in_e2e or "services" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


def _session_home() -> tuple[Path, IO[str] | None]:
    """`.onestop/test` if no other session holds it, else `.onestop/test-<pid>`."""
    ONESTOP_DIR.mkdir(parents=True, exist_ok=True)
    handle = (ONESTOP_DIR / "test.session.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return ONESTOP_DIR / f"test-{os.getpid()}", None
    return ONESTOP_DIR / "test", handle


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """The running local stack (see the module docstring for which one)."""
    from streams import infra

    if os.environ.get("ONESTOP_TEST_REUSE") == "1":
        yield infra.up(infra.default_home())
        return
    home, lock = _session_home()
    try:
        yield infra.up(home, cache=SHARED_CACHE)
    finally:
        infra.down(home)
        if lock is None:
            shutil.rmtree(home, ignore_errors=True)
        else:
            lock.close()  # releases the flock


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.e2e)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database on each back-end."""
    if request.param == "sqlite":
        yield f"sqlite+pysqlite:///{tmp_path / 'store.db'}"
        return
    running: Services = request.getfixturevalue("services")
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(running.postgres_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield running.database_url_for(name)
    finally:
        with psycopg.connect(running.postgres_dsn(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
