"""`onestop infra up | down | status | env`: the local Kafka, Apicurio and PostgreSQL.

Progress goes to stderr, results to stdout (so `eval "$(onestop infra env)"` works). Any
`InfraError` is printed plainly and the command exits with status 1, without a traceback.
"""

from __future__ import annotations

import functools
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import ParamSpec, TypeVar

import click

from streams import infra as stack

P = ParamSpec("P")
R = TypeVar("R")


def _plain_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn `InfraError` into `error: <message>` on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except stack.InfraError as exc:
            click.echo(f"error: {exc}", err=True)
            raise click.exceptions.Exit(1) from None

    return wrapper


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _home(ctx: click.Context) -> Path:
    home: Path = ctx.obj["home"]
    return home


@click.group()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where jars, data and state live [default: $ONESTOP_HOME or <project>/.onestop].",
)
@click.pass_context
def infra(ctx: click.Context, home: Path | None) -> None:
    """Start/stop the local Kafka broker, schema registry and PostgreSQL."""
    # aiokafka logs every refused connection of a readiness probe at ERROR: not news here
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    ctx.ensure_object(dict)
    ctx.obj["home"] = (home or stack.default_home()).resolve()


@infra.command()
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds each service may take to answer.",
)
@click.pass_context
@_plain_errors
def up(ctx: click.Context, timeout: float) -> None:
    """Fetch (if needed) and start the stack; do nothing if it already runs."""
    # `kill <cli pid>` while starting: unwind like Ctrl-C, stopping what was started so far
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        services = stack.up(_home(ctx), ready_timeout=timeout, progress=_progress)
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"kafka     {services.kafka_bootstrap}")
    click.echo(f"registry  {services.registry_url}")
    click.echo(f"postgres  {services.database_url}")
    click.echo('load the addresses into a shell with: eval "$(onestop infra env)"')


@infra.command()
@click.pass_context
@_plain_errors
def down(ctx: click.Context) -> None:
    """Stop the recorded processes by pid and delete their data (the cache stays)."""
    stack.down(_home(ctx), progress=_progress)


@infra.command()
@click.pass_context
@_plain_errors
def status(ctx: click.Context) -> None:
    """Show each service's pid, liveness, address and readiness (exit 1 unless all ready)."""
    found = stack.status(_home(ctx))
    if not found:
        raise stack.InfraError(f"no stack recorded under {_home(ctx)}; run `onestop infra up`")
    for s in found:
        alive = "alive" if s.alive else "dead"
        ready = "ready" if s.ready else "NOT READY"
        click.echo(f"{s.name:<9} pid {s.pid:<7} {alive:<5}  {ready:<9}  {s.address}")
    if not all(s.ready for s in found):
        raise click.exceptions.Exit(1)


@infra.command()
@click.pass_context
@_plain_errors
def env(ctx: click.Context) -> None:
    """Print `export ...` lines with the running stack's addresses."""
    services = stack.load_services(_home(ctx))
    if services is None:
        raise stack.InfraError(
            f"no running stack recorded under {_home(ctx)}; run `onestop infra up`"
        )
    click.echo(stack.render_env(services.env()), nl=False)
