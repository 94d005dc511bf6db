"""`onestop bench`: the side-by-side benchmark of issue #5 (see `streams.bench.runner`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from streams.bench.model import CONTENDERS
from streams.infra import InfraError, default_home, project_root

__all__ = ["bench"]

BACKENDS = ("sqlite", "postgresql")  # streams.bench.databases.BACKENDS, without its imports


def _csv(choices: tuple[str, ...]) -> click.ParamType:
    class Csv(click.ParamType):
        name = "LIST"

        def convert(self, value: object, param: click.Parameter | None,
                    ctx: click.Context | None) -> tuple[str, ...]:
            if isinstance(value, tuple):
                return value
            items = tuple(x.strip() for x in str(value).split(",") if x.strip())
            unknown = [x for x in items if x not in choices]
            if unknown or not items:
                self.fail(f"{value!r}: choose from {', '.join(choices)} (comma-separated)",
                          param, ctx)
            return items

    return Csv()


def _rates(value: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(x) for x in value.split(",") if x.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from exc
    if any(r <= 0 for r in rates):
        raise click.BadParameter("rates must be positive")
    return rates


@click.command()
@click.option("--events", type=click.IntRange(1000), default=1_000_000, show_default=True,
              help="size of the generated province loaded into the broker")
@click.option("--seed", default=42, show_default=True)
@click.option("--backends", type=_csv(BACKENDS), default=",".join(BACKENDS), show_default=True)
@click.option("--contenders", type=_csv(CONTENDERS), default=",".join(CONTENDERS),
              show_default=True)
@click.option("--naive-sample", type=click.IntRange(12), default=2000, show_default=True,
              help="events the naive projector is timed on (then extrapolated per event)")
@click.option("--rates", default="100,500", show_default=True, metavar="R1,R2",
              help="input rates (events/s) for the latency phase; empty for none")
@click.option("--rate-seconds", type=click.FloatRange(1), default=20.0, show_default=True)
@click.option("--batch", type=click.IntRange(1), default=20_000, show_default=True,
              help="records per batch for the replay and the raw loop")
@click.option("--no-profile", is_flag=True, help="skip the profiled replay")
@click.option("--profile-events", type=click.IntRange(1000), default=200_000, show_default=True,
              help="profile the replay over about this many events (a point-in-time build)")
@click.option("--results", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="report folder [default: <project>/results]")
@click.option("--update-benchmarks-md", is_flag=True,
              help="also rewrite the committed BENCHMARKS.md with these figures")
@click.option("--keep-running", is_flag=True, help="leave the benchmark's stack running")
def bench(events: int, seed: int, backends: tuple[str, ...], contenders: tuple[str, ...],
          naive_sample: int, rates: str, rate_seconds: float, batch: int, no_profile: bool,
          profile_events: int,
          results: Path | None, update_benchmarks_md: bool, keep_running: bool) -> None:
    """Benchmark the pipeline side by side with the broker's ceiling, a raw loop and a naive
    projector, on one generated province, on SQLite and PostgreSQL, in one run.

    Runs on its own local stack under <home>/bench (started and stopped here; its topics are
    emptied and reloaded). Writes Markdown, JSON and a PNG chart to the results folder.
    """
    from streams.bench.measure import BenchProcessError
    from streams.bench.report import benchmarks_md, write_results
    from streams.bench.runner import BenchOptions, run_bench

    root = project_root() or Path.cwd()
    home = default_home()
    options = BenchOptions(
        home=home / "bench", results=results or root / "results", cache=home / "cache",
        events=events, seed=seed, backends=backends, contenders=contenders,
        naive_sample=naive_sample, rates=_rates(rates) if rates.strip() else (),
        rate_seconds=rate_seconds, batch=batch, profile=not no_profile,
        profile_events=profile_events,
        keep_running=keep_running)
    try:
        report = run_bench(options, say=lambda line: click.echo(line, err=True))
    except (BenchProcessError, InfraError, OSError, ValueError, RuntimeError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    paths = write_results(report, options.results)
    command = "make bench" + (f" ARGS='--events {events}'" if events != 1_000_000 else "")
    if update_benchmarks_md:
        (root / "BENCHMARKS.md").write_text(benchmarks_md(report, command), encoding="utf-8")
        click.echo(f"updated {root / 'BENCHMARKS.md'}")
    click.echo(paths["md"].read_text(encoding="utf-8"))
    for kind, path in sorted(paths.items()):
        click.echo(f"{kind}: {path}", err=True)
    if not all(report.checksums_equal.values()):
        click.echo("error: the contenders' checksums differ (see the report)", err=True)
        sys.exit(2)
