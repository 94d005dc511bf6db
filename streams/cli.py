"""The `onestop` command line: one group, one sub-module per area of work.

Each area lives in `streams/commands/<area>.py` and exposes a click command or group;
this module only wires them together.
"""

from __future__ import annotations

import click

from streams.commands import api as api_commands
from streams.commands import bench as bench_commands
from streams.commands import infra as infra_commands
from streams.commands import operate as operate_commands
from streams.commands import ops as ops_commands
from streams.commands import run as run_commands
from streams.commands import schemas as schema_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """onestop-sync: Kafka + Avro events in, portal / one-stop / statistics projections out."""


main.add_command(infra_commands.infra)
main.add_command(schema_commands.schemas)
main.add_command(schema_commands.topics)
main.add_command(run_commands.generate_command)
main.add_command(run_commands.publish)
main.add_command(run_commands.worker)
main.add_command(run_commands.stats)
main.add_command(run_commands.demo)
main.add_command(api_commands.api)
main.add_command(operate_commands.replay)
main.add_command(operate_commands.verify)
main.add_command(ops_commands.status)
main.add_command(ops_commands.dlq)
main.add_command(bench_commands.bench)


if __name__ == "__main__":  # pragma: no cover
    main()
