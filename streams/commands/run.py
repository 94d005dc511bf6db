"""The main-job commands: `generate`, `publish`, `worker`, `stats`, `demo`."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from connectors.publisher import PublishValidationError, encode_events, load_events, publish_records
from connectors.workload import WorkloadSpec, generate, write_jsonl
from projections.period import parse_period
from projections.records import PROJECTIONS
from projections.statistics import compute_statistics
from streams.compose import load_stats_facts, open_codec, open_engine, open_pipeline
from streams.settings import Settings
from streams.summary import render_summary
from streams.topics import ensure_topics
from streams.worker import Worker

__all__ = ["demo", "generate_command", "publish", "stats", "worker"]


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.command("generate")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--seed", default=42, show_default=True)
@click.option("--dossiers", default=10_000, show_default=True, help="how many dossiers")
@click.option("--procedures", default=2000, show_default=True)
@click.option("--departments", default=20, show_default=True)
@click.option("--communes", default=100, show_default=True)
@click.option("--year", default=2025, show_default=True)
def generate_command(
    out: Path, seed: int, dossiers: int, procedures: int, departments: int, communes: int, year: int
) -> None:
    """Write a seeded, realistic province (catalogue + a year of dossiers) as JSON lines."""
    spec = WorkloadSpec(
        seed=seed,
        year=year,
        departments=departments,
        communes=communes,
        procedures=procedures,
        dossiers=dossiers,
    )
    started = time.perf_counter()
    count = write_jsonl(generate(spec), out)
    click.echo(f"wrote {count} events to {out} in {time.perf_counter() - started:.1f} s")


def publish_file(settings: Settings, path: Path) -> int:
    """Validate and encode every line, then publish; returns the number of events."""
    events = load_events(path)
    codec = open_codec(settings, auto_register=True)
    records = encode_events(codec, events)
    bootstrap = settings.require_kafka()
    asyncio.run(ensure_topics(bootstrap, settings))

    def progress(sent: int, total: int) -> None:
        click.echo(f"\r  published {sent}/{total}", nl=False, err=True)

    report = asyncio.run(publish_records(bootstrap, records, progress=progress))
    click.echo("", err=True)
    topics = ", ".join(f"{t}: {n}" for t, n in sorted(report.by_topic.items()))
    click.echo(
        f"published {report.events} events ({topics}) in {report.seconds:.1f} s "
        f"({report.events_per_second:,.0f}/s)"
    )
    return report.events


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def publish(file: Path) -> None:
    """Validate every line of FILE.jsonl, then publish; any invalid line publishes nothing."""
    try:
        publish_file(Settings.from_env(), file)
    except PublishValidationError as exc:
        _fail(str(exc))


def run_worker(settings: Settings, until_idle: float | None, group_id: str) -> int:
    pipeline = open_pipeline(settings)
    worker = Worker(
        pipeline,
        bootstrap=settings.require_kafka(),
        group_id=group_id,
        batch_size=settings.batch_size,
        catchup_batch_size=settings.catchup_batch_size,
        backlog_pause=settings.backlog_pause,
        until_idle_s=until_idle,
    )
    started = time.perf_counter()
    result = worker.run()
    elapsed = time.perf_counter() - started
    click.echo(f"worker stopped after {elapsed:.1f} s", err=True)
    for projection in PROJECTIONS:
        c = {
            k.split(".", 1)[1]: v
            for k, v in result.counters.items()
            if k.startswith(projection + ".")
        }
        click.echo(
            f"  {projection:<8} records {c.get('records', 0)}, applied {c.get('applied', 0)}, "
            f"duplicates {c.get('duplicates', 0)}, rejected {c.get('rejected', 0)} (to the DLQ), "
            f"parked {c.get('parked', 0)}",
            err=True,
        )
    flow = result.counters
    click.echo(
        f"  flow     waits for the catalogue {flow.get('deferred.waits', 0)}, dossier partitions "
        f"paused {flow.get('paused', 0)} times, stale records dropped after a rebalance "
        f"{flow.get('stale', 0)}",
        err=True,
    )
    if result.error is not None:
        click.echo(f"error: worker stopped by a failed batch: {result.error!r}", err=True)
    return result.exit_code


@click.command()
@click.option(
    "--until-idle",
    type=float,
    default=None,
    metavar="SECONDS",
    help="exit 0 once every projection has caught up and nothing new arrived for SECONDS",
)
@click.option(
    "--group-id",
    default="onestop-sync",
    show_default=True,
    envvar="ONESTOP_GROUP_ID",
    help="Kafka consumer group (positions live in the database, not in the group)",
)
def worker(until_idle: float | None, group_id: str) -> None:
    """Run the stream processors that project both topics into the three projections."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    sys.exit(run_worker(Settings.from_env(), until_idle, group_id))


def statistics_for(
    settings: Settings, period: str, agency: str | None, sector: str | None
) -> dict[str, Any]:
    facts = load_stats_facts(open_engine(settings))
    return compute_statistics(
        facts,
        parse_period(period),
        agency=agency,
        sector=sector,
        as_of=datetime.now(UTC).isoformat(timespec="seconds"),
    )


@click.command()
@click.option(
    "--period",
    default=None,
    help="2020, 2020-Q4, 2020-11 or 2020-11-01..2020-11-30 (default: this year)",
)
@click.option("--agency", default=None, help="only this agency (handling agency of dossiers)")
@click.option("--sector", default=None, help="only this sector")
@click.option("--json", "as_json", is_flag=True, help="print the CONTRACT's JSON object")
def stats(period: str | None, agency: str | None, sector: str | None, as_json: bool) -> None:
    """The statistics of CONTRACT.md for a period, agency and sector."""
    try:
        result = statistics_for(
            Settings.from_env(), period or str(datetime.now(UTC).year), agency, sector
        )
    except ValueError as exc:
        _fail(str(exc))
        return
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(render_summary(result))


@click.command()
@click.option("--dossiers", default=3000, show_default=True, help="size of the generated province")
@click.option("--seed", default=42, show_default=True)
@click.option("--keep-running", is_flag=True, help="leave the local stack running afterwards")
def demo(dossiers: int, seed: int, keep_running: bool) -> None:
    """Infra up, publish a generated province, run the worker until idle, print statistics."""
    from streams import infra

    settings = Settings.from_env()
    already_running = infra.load_services(settings.home) is not None
    click.echo("== 1/4 starting the local stack (Kafka, schema registry, PostgreSQL)")
    services = infra.up(settings.home, progress=click.echo)
    try:
        database = settings.home / "demo.db"
        database.unlink(missing_ok=True)
        env = {k: v for k, v in services.env().items() if k != "ONESTOP_DATABASE_URL"}
        env.update(ONESTOP_HOME=str(settings.home), ONESTOP_DATABASE_URL=f"sqlite:///{database}")
        settings = Settings.from_env(env)
        spec = WorkloadSpec(seed=seed, dossiers=dossiers)
        path = settings.home / f"demo-province-{seed}-{dossiers}.jsonl"
        click.echo(f"== 2/4 generating a province ({dossiers} dossiers, seed {seed}) into {path}")
        count = write_jsonl(generate(spec), path)
        click.echo(f"   {count} events")
        click.echo("== 3/4 publishing")
        publish_file(settings, path)
        click.echo("== 4/4 projecting (worker until idle)")
        code = run_worker(settings, until_idle=3.0, group_id=f"onestop-demo-{int(time.time())}")
        if code != 0:
            _fail("the worker failed; see above")
        click.echo("")
        click.echo(render_summary(statistics_for(settings, str(spec.year), None, None)))
        click.echo(f"\nprojections are in {settings.database_url}")
    finally:
        if not keep_running and not already_running:
            infra.down(settings.home)
