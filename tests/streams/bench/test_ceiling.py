"""`streams.bench.ceiling`: ConsumerPerformance's command line and its output, read from real
captured runs of Kafka 3.9.1's tool (pure; no broker)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from streams.bench.ceiling import (
    CEILING_JVM,
    CeilingTool,
    ceiling_command,
    ceiling_tool,
    messages_by_topic,
    parse_consumer_performance,
    topic_command,
)
from streams.infra.errors import ToolMissing

HEADER = (
    "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
    "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
)
# Captured from `java -cp libs/* org.apache.kafka.tools.ConsumerPerformance` (Kafka 3.9.1)
ONE_RUN = (
    f"{HEADER}\n"
    "2026-11-22 08:18:12:261, 2026-11-22 08:18:13:292, 0.3842, 0.3726, 2000, 1939.8642, 735, "
    "296, 1.2978, 6756.7568\n"
)
# Two runs in sequence (`ceiling_command` with two topics), as `/bin/sh -c` printed them
TWO_RUNS = (
    f"{HEADER}\n"
    "2026-11-22 08:20:39:400, 2026-11-22 08:20:41:493, 0.3842, 0.1835, 2000, 955.5662, 1781, "
    "312, 1.2313, 6410.2564\n"
    f"{HEADER}\n"
    "2026-11-22 08:20:44:165, 2026-11-22 08:20:45:903, 0.1921, 0.1105, 1000, 575.3740, 1528, "
    "210, 0.9147, 4761.9048\n"
)
# `--messages 2000` on a topic holding 1000, `--timeout 3000`: the tool gives up and says so
TIMED_OUT = (
    f"{HEADER}\n"
    "WARNING: Exiting before consuming the expected number of messages: timeout (3000 ms) "
    "exceeded. You can use the --timeout option to increase the timeout.\n"
    "2026-11-22 08:18:14:583, 2026-11-22 08:18:18:313, 0.1921, 0.0515, 1000, 268.0965, 544, "
    "3186, 0.0603, 313.8732\n"
)

TOOL = CeilingTool(Path("/jvm/bin/java"), Path("/cache/kafka-3.9.1/libs"), "3.9.1",
                   Path("/work/log4j.properties"))


# --- parsing -------------------------------------------------------------------------------


def test_one_summary_line_gives_the_tools_own_fetch_figures() -> None:
    figures = parse_consumer_performance(ONE_RUN)

    assert figures.messages == 2000
    assert figures.megabytes == pytest.approx(0.3842)
    assert figures.seconds == pytest.approx(0.296)  # fetch time: the group join left out
    assert figures.rebalance_ms == 735
    assert figures.elapsed_s == pytest.approx(1.031)  # end.time - start.time
    assert (figures.runs, figures.timed_out) == (1, False)
    # the rates over the fetch time are the tool's fetch.MB.sec and fetch.nMsg.sec
    assert figures.mb_per_s == pytest.approx(1.2978, rel=1e-3)
    assert figures.messages_per_s == pytest.approx(6756.7568, rel=1e-6)


def test_runs_over_several_topics_are_summed() -> None:
    figures = parse_consumer_performance(TWO_RUNS)

    assert figures.messages == 3000
    assert figures.megabytes == pytest.approx(0.5763)
    assert figures.seconds == pytest.approx(0.522)
    assert figures.rebalance_ms == 1781 + 1528
    assert figures.runs == 2
    assert figures.messages_per_s == pytest.approx(3000 / 0.522)


def test_a_timeout_is_flagged_and_the_partial_count_kept() -> None:
    figures = parse_consumer_performance(TIMED_OUT)

    assert figures.timed_out
    assert figures.messages == 1000


def test_stray_lines_around_the_output_are_ignored() -> None:
    noisy = "log4j:WARN No appenders could be found\n" + ONE_RUN + "\n"

    assert parse_consumer_performance(noisy) == parse_consumer_performance(ONE_RUN)


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        ("", "no summary line"),
        ("Exception in thread main: boom\n", "no summary line"),
        (f"{HEADER}\n", "header line without a summary line"),
        (ONE_RUN + f"{HEADER}\n", "header line without a summary line"),
        (f"{HEADER}\n{HEADER}\n", "a second header"),
        (f"{HEADER}\n2026-11-22 08:18:12:261, 2026-11-22 08:18:13:292, 0.3842\n",
         "expected a summary line of 10"),
        (ONE_RUN.replace(", 2000,", ", many,"), "data.consumed.in.nMsg is 'many'"),
        (ONE_RUN.replace("fetch.time.ms", "fetch.ms"), "the header lacks fetch.time.ms"),
    ],
)
def test_unexpected_output_is_refused_naming_what(stdout: str, message: str) -> None:
    with pytest.raises(ValueError, match="ConsumerPerformance output") as caught:
        parse_consumer_performance(stdout)
    assert message in str(caught.value)


# --- command lines -------------------------------------------------------------------------


def test_a_topic_command_runs_the_tool_from_the_stacks_jars() -> None:
    argv = topic_command(TOOL, bootstrap="127.0.0.1:9092", topic="dossier.events",
                         messages=1234, group="g")

    assert argv[0] == "/jvm/bin/java"
    assert argv[1:1 + len(CEILING_JVM)] == list(CEILING_JVM)
    assert "-Dlog4j.configuration=file:/work/log4j.properties" in argv
    cp = argv.index("-cp")
    assert argv[cp + 1:cp + 3] == ["/cache/kafka-3.9.1/libs/*",
                                   "org.apache.kafka.tools.ConsumerPerformance"]
    options = dict(zip(argv[cp + 3::2], argv[cp + 4::2], strict=True))
    assert options == {
        "--bootstrap-server": "127.0.0.1:9092", "--topic": "dossier.events",
        "--messages": "1234", "--group": "g", "--timeout": "60000",
    }


def test_a_topic_command_needs_messages() -> None:
    with pytest.raises(ValueError, match=r"dossier\.events: messages must be positive"):
        topic_command(TOOL, bootstrap="b:1", topic="dossier.events", messages=0, group="g")


def test_two_topics_run_in_sequence_under_one_shell_catalogue_first() -> None:
    argv = ceiling_command(TOOL, "b:1", {"dossier.events": 900, "catalogue.events": 100}, "run7")

    assert argv[:2] == ["/bin/sh", "-c"]
    first, second = (shlex.split(part) for part in argv[2].split(" && "))
    assert first == topic_command(TOOL, bootstrap="b:1", topic="catalogue.events",
                                  messages=100, group="run7-catalogue.events")
    assert second == topic_command(TOOL, bootstrap="b:1", topic="dossier.events",
                                   messages=900, group="run7-dossier.events")


def test_one_topic_with_records_is_the_jvm_itself() -> None:
    argv = ceiling_command(TOOL, "b:1", {"catalogue.events": 0, "dossier.events": 5}, "g")

    assert argv == topic_command(TOOL, bootstrap="b:1", topic="dossier.events", messages=5,
                                 group="g-dossier.events")


def test_no_records_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="no records to read"):
        ceiling_command(TOOL, "b:1", {"catalogue.events": 0}, "g")


def test_messages_by_topic_sums_partition_ends() -> None:
    ends = {("dossier.events", 0): 10, ("dossier.events", 1): 7, ("catalogue.events", 0): 3}

    assert messages_by_topic(ends) == {"dossier.events": 17, "catalogue.events": 3}


def test_a_home_without_kafkas_jars_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing, match=r"kafka-tools-.*\.jar.*onestop infra up"):
        ceiling_tool(tmp_path / "home", cache=tmp_path / "cache", work_dir=tmp_path)
