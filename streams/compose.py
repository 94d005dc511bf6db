"""Building the long-lived parts from `Settings`: engine, live stores, codec, pipeline.

The only place that decides which projection version is live when none is yet (version
1, created on first use). Commands call these; nothing else reads the environment.
"""

from __future__ import annotations

from sqlalchemy import Engine

from projections.policy import build_policies
from projections.records import PROJECTIONS
from projections.stats_facts import StatsFacts
from projections.store import ProjectionStore, live_version, make_engine, set_live_version
from projections.store.meta import META
from projections.views import stats as stats_view
from schemas.codec import AvroCodec
from schemas.registry import HttpSchemaRegistry
from streams.pipeline import Pipeline
from streams.settings import Settings

__all__ = ["live_stores", "load_stats_facts", "open_codec", "open_engine", "open_pipeline"]


def open_engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


def live_stores(engine: Engine) -> dict[str, ProjectionStore]:
    """The live version of each projection, created as version 1 when there is none."""
    stores: dict[str, ProjectionStore] = {}
    META.create_all(engine, checkfirst=True)
    for projection in PROJECTIONS:
        with engine.connect() as conn:
            version = live_version(conn, projection)
        store = ProjectionStore(engine, projection, version or 1)
        store.create()
        if version is None:
            with engine.begin() as conn:
                if live_version(conn, projection) is None:
                    set_live_version(conn, projection, 1)
        stores[projection] = store
    return stores


def open_codec(settings: Settings, *, auto_register: bool = False) -> AvroCodec:
    registry = HttpSchemaRegistry(settings.require_schema_registry())
    return AvroCodec(
        registry, auto_register=auto_register, max_record_bytes=settings.max_record_bytes
    )


def open_pipeline(settings: Settings, engine: Engine | None = None) -> Pipeline:
    engine = engine or open_engine(settings)
    return Pipeline(
        engine,
        open_codec(settings),
        live_stores(engine),
        build_policies(settings.pii_hmac_key.encode("utf-8")),
        max_record_bytes=settings.max_record_bytes,
    )


def load_stats_facts(engine: Engine) -> StatsFacts:
    """The live statistics store's fact tables, read in one transaction."""
    store = live_stores(engine)["stats"]
    with engine.connect() as conn:
        tables = {name: store.read_rows(conn, name) for name in stats_view.TABLES}
    return StatsFacts.from_rows(tables)
