"""Operator commands: `replay` (rebuild projections in one pass, swap them in together) and
`verify` (compare a live projection with a rebuild from the log). See `streams.replay`,
`streams.verify`."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from aiokafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from projections.policy import build_policies
from projections.records import PROJECTIONS
from projections.store import StoreError, make_engine
from schemas.errors import RegistryError
from streams.compose import open_codec
from streams.progress import Progress
from streams.replay import (
    ReplayContext,
    ReplayError,
    ReplayResult,
    build_versions,
    drop_version,
    replay_names,
    replay_projections,
)
from streams.replay_log import LogReaderError, parse_instant, parse_to_offset
from streams.replay_safety import check_replay_safety, render_report, report_json
from streams.settings import Settings, SettingsError
from streams.verify import VerifyError, check_json, render_check, verify_projection

__all__ = ["replay", "summary_lines", "verify"]

_EXPECTED = (ReplayError, LogReaderError, VerifyError, StoreError, SettingsError, RegistryError,
             KafkaError, SQLAlchemyError, ValueError, OSError)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _describe(exc: BaseException) -> str:
    """A bad argument speaks for itself; anything else is named by its class."""
    return str(exc) if type(exc) is ValueError else f"{type(exc).__name__}: {exc}"


@contextmanager
def _context(settings: Settings, max_records: int = 20_000) -> Iterator[ReplayContext]:
    engine = make_engine(settings.database_url)
    build_engine = make_engine(settings.database_url, durable=False)
    try:
        yield ReplayContext(
            engine=engine, build_engine=build_engine, codec=open_codec(settings),
            policies=build_policies(settings.pii_hmac_key.encode("utf-8")),
            bootstrap=settings.require_kafka(), max_record_bytes=settings.max_record_bytes,
            max_records=max_records, max_cached=settings.replay_cache)
    finally:
        build_engine.dispose()
        engine.dispose()


@click.command()
@click.argument("projections", nargs=-1, required=True,
                type=click.Choice((*PROJECTIONS, "all")), metavar="PROJECTION...")
@click.option("--to-offset", "to_offsets", multiple=True, metavar="TOPIC:PARTITION:OFFSET",
              help="point in time: stop before OFFSET on that partition (repeatable); other "
                   "partitions stop at --to-time, or at their end now")
@click.option("--to-time", metavar="ISO8601",
              help="point in time: stop at the first record at or after this instant "
                   "(without an offset: UTC)")
@click.option("--keep-old", is_flag=True, help="keep the old versions' tables after the swap")
@click.option("--grace", type=float, default=10.0, show_default=True, metavar="SECONDS",
              help="wait this long after the swap before dropping the old versions")
@click.option("--check-only", is_flag=True, help="only run the replay-safety check")
@click.option("--drop-version", type=int, metavar="N",
              help="drop version N of PROJECTION (exactly one; never the live one) and exit")
@click.option("--batch", "max_records", type=click.IntRange(1), default=20_000,
              show_default=True, help="records per getmany() batch and transaction")
@click.option("--json", "as_json", is_flag=True, help="with --check-only: the report as JSON")
@click.option("--quiet", is_flag=True, help="no progress line")
def replay(projections: tuple[str, ...], to_offsets: tuple[str, ...], to_time: str | None,
           keep_old: bool, grace: float, check_only: bool, drop_version: int | None,
           max_records: int, as_json: bool, quiet: bool) -> None:
    """Rebuild each PROJECTION (portal, onestop, stats, or all) from the topics into a new
    version and swap them in atomically.

    Several projections are rebuilt in one pass over the log and swapped in together, in
    one transaction (all or none). The live worker goes on meanwhile; readers switch at the
    swap and never see a half-built projection. Nothing is sent anywhere (no DLQ writes, no
    deliveries). A replay-safety check runs first and refuses (exit 1) if a writer schema
    in the topics cannot be decoded with today's reader. With --to-offset/--to-time the
    versions are built up to there and left beside the live ones, not swapped in.
    """
    try:
        names = replay_names(projections)
        stops = dict(parse_to_offset(text) for text in to_offsets)
        at_ms = parse_instant(to_time) if to_time else None
        if drop_version is not None and len(names) != 1:
            raise ValueError(f"--drop-version {drop_version} needs exactly one PROJECTION, "
                             f"not {', '.join(names)}")
        settings = Settings.from_env()
        if drop_version is not None:
            with _context(settings) as ctx:
                _drop(ctx, names[0], drop_version)
            click.echo(f"dropped {names[0]} v{drop_version}")
            return
        with _context(settings, max_records) as ctx:
            report = asyncio.run(check_replay_safety(ctx.bootstrap, ctx.codec))
            if check_only and as_json:
                click.echo(json.dumps(report_json(report), indent=2))
            else:
                for line in render_report(report):
                    click.echo(line, err=not check_only)
            if not report.ok:
                _fail(f"replay of {', '.join(names)} refused: the topics hold writer schemas "
                      "today's reader cannot decode (see above)")
            if check_only:
                return
            progress = Progress("+".join(names), enabled=not quiet)
            if stops or at_ms is not None:
                results = asyncio.run(build_versions(ctx, names, progress,
                                                     to_offsets=stops, to_time_ms=at_ms))
            else:
                results = asyncio.run(replay_projections(ctx, names, progress, grace_s=grace,
                                                         keep_old=keep_old))
            progress.finish()
    except _EXPECTED as exc:
        _fail(_describe(exc))
    for line in summary_lines(results):
        click.echo(line)


def summary_lines(results: Sequence[ReplayResult]) -> list[str]:
    """What `onestop replay` prints: one summary per projection (with, for a point-in-time
    build, where it stopped and what to do with it), then the total for several."""
    lines: list[str] = []
    for result in results:
        projection = result.projection
        summary = (f"{projection}: replayed {result.events:,} events into v{result.version} "
                   f"in {result.seconds:.1f} s ({result.events_per_second:,.0f} events/s)")
        if result.swapped:
            old = ("" if result.old_version is None else
                   f"; v{result.old_version} " + ("dropped" if result.dropped_old else "kept"))
            lines.append(f"{summary}; v{result.version} is live{old}")
            continue
        where = ", ".join(f"{t}:{p}:{o}" for (t, p), o in sorted(result.positions.items()))
        lines.append(
            f"{summary}; point in time, NOT swapped in (readers never go back in time)\n"
            f"  positions: {where}\n"
            f"  inspect:   tables {projection}_v{result.version}_*\n"
            f"  verify:    onestop verify {projection} --version {result.version}\n"
            f"  drop:      onestop replay --drop-version {result.version} {projection}")
    if len(results) > 1:
        first = results[0]
        lines.append(f"total: {first.events:,} events into {len(results)} projections in one "
                     f"pass in {first.seconds:.1f} s ({first.events_per_second:,.0f} events/s)")
    return lines


def _drop(ctx: ReplayContext, projection: str, version: int) -> None:
    drop_version(ctx.engine, projection, version)


@click.command()
@click.argument("projection", type=click.Choice(PROJECTIONS), required=False)
@click.option("--version", type=int, default=None, metavar="N",
              help="check version N instead of the live one (needs PROJECTION)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--quiet", is_flag=True, help="no progress line")
def verify(projection: str | None, version: int | None, as_json: bool, quiet: bool) -> None:
    """Recompute projections from the log and compare them with the stored ones.

    Each (default: all three) is rebuilt into a scratch version up to exactly the stored
    positions and compared table by table by checksum; drift is reported with examples.
    Exit code: 0 consistent, 2 drift found, 1 the check could not be made.
    """
    if version is not None and projection is None:
        _fail("--version needs a PROJECTION")
    names = [projection] if projection else list(PROJECTIONS)
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        with _context(Settings.from_env()) as ctx:
            for name in names:
                progress = Progress(f"verify {name}", enabled=not quiet)
                try:
                    check = asyncio.run(verify_projection(ctx, name, progress, version))
                except _EXPECTED as exc:
                    progress.finish()
                    errors.append(f"{name}: {_describe(exc)}")
                    continue
                progress.finish()
                results.append(check_json(check))
                if not as_json:
                    for line in render_check(check):
                        click.echo(line)
    except _EXPECTED as exc:
        errors.append(_describe(exc))
    drift = [r["projection"] for r in results if not r["consistent"]]
    outcome = "error" if errors else ("drift" if drift else "consistent")
    if as_json:
        click.echo(json.dumps({"result": outcome, "projections": results, "errors": errors},
                              ensure_ascii=False, indent=2))
    else:
        for error in errors:
            click.echo(f"error: {error}", err=True)
        click.echo(f"result: {outcome}" + (f" ({', '.join(drift)})" if drift else ""))
    sys.exit(1 if errors else 2 if drift else 0)
