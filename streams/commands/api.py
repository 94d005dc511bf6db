"""`onestop api`: serve the read-only HTTP API over the live projections.

The API itself is `connectors.api` (endpoints, PII rules). This command only builds the
engine (read-only use: SQLite reads take no write lock, SQL parameters are kept out of error
messages), mounts the app and runs it until interrupted. It never creates tables: until a
worker has built a projection, its endpoints answer 503.

`/onestop/*` returns applicant data and has no authentication of its own: bind it only where
the department's auth proxy can reach it, or pass `--portal-only` for a public instance.
"""

from __future__ import annotations

import logging

import click
from aiohttp import web

from connectors.api import ApiAccessLogger, create_api
from projections.store import make_engine
from streams.settings import Settings

__all__ = ["api"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--portal-only",
    is_flag=True,
    help="leave out /onestop/* (the routes with applicant data), for a public instance",
)
def api(host: str, port: int, portal_only: bool) -> None:
    """Serve the read-only JSON API (portal lookup and search, one-stop slices, stats)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    if settings.is_dev_pii_key:
        click.echo(
            "warning: ONESTOP_PII_HMAC_KEY is not set; ID-number lookups use the public "
            "development key (set the same key as the worker's)",
            err=True,
        )
    if not portal_only:
        click.echo(
            "note: /onestop/* returns applicant data and has no authentication here; "
            "serve it only behind the department's auth (or use --portal-only)",
            err=True,
        )
    engine = make_engine(settings.database_url, sqlite_begin="DEFERRED", hide_parameters=True)
    try:
        web.run_app(
            create_api(engine, settings, include_onestop=not portal_only),
            host=host,
            port=port,
            access_log_class=ApiAccessLogger,
            print=lambda message: click.echo(message, err=True),
        )
    finally:
        engine.dispose()
