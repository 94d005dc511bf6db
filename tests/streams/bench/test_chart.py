"""The benchmark chart: a readable PNG for a full report, and no failure on missing or zero
figures (log scales cannot show zero)."""

from __future__ import annotations

from pathlib import Path

from streams.bench.chart import build_figure, render_chart
from streams.bench.model import BenchReport, Latency, Run, Workload

PNG = b"\x89PNG\r\n\x1a\n"


def full_report() -> BenchReport:
    runs = [Run("ceiling", "kafka", 1_000_000, 4.0, 5.0, 400.0)]
    for backend, scale in (("sqlite", 1.0), ("postgresql", 2.0)):
        runs += [
            Run("raw", backend, 1_000_000, 25.0 * scale, 24.0, 180.0),
            Run("replay", backend, 1_000_000, 31.25 * scale, 30.0, 210.0),
            Run("worker", backend, 1_000_000, 40.0 * scale, 41.0, 320.0),
            Run("naive", backend, 2_000, 10.0 * scale, 8.0, 95.0, sample_events=2_000),
        ]
    latency = [Latency(b, rate, rate, 3_000, p50, p99, p99 * 2, 5.0)
               for b, rate, p50, p99 in (("sqlite", 100.0, 12.0, 48.0),
                                         ("sqlite", 1_000.0, 35.0, 210.0),
                                         ("postgresql", 100.0, 18.0, 95.0),
                                         ("postgresql", 1_000.0, 60.0, 1_450.0))]
    return BenchReport(started_at="2025-06-01T10:00:00+00:00", machine={"cpu_count": 2},
                       workload=Workload(7, 1_000_000, 12_000, 988_000, 150_000, 26_000, 45.0),
                       runs=runs, latency=latency)


def _texts(report: BenchReport) -> list[str]:
    figure = build_figure(report)
    return [t.get_text() for ax in figure.axes for t in ax.texts]


def test_the_chart_is_a_png_of_a_sensible_size(tmp_path: Path) -> None:
    from matplotlib.image import imread

    path = tmp_path / "chart.png"
    render_chart(full_report(), path)

    assert path.read_bytes()[:8] == PNG
    height, width = imread(path).shape[:2]
    assert 1000 <= width <= 2000 and 400 <= height <= 1000


def test_bars_are_labelled_with_rate_and_ratio_and_the_ceiling_is_drawn() -> None:
    figure = build_figure(full_report())
    throughput = figure.axes[0]

    labels = [t.get_text() for t in throughput.texts]
    assert "40,000" in labels  # the raw loop on SQLite
    assert "32,000\n0.80×" in labels  # replay on SQLite, over the raw loop
    assert "100\n0.0050×" in labels  # naive on PostgreSQL: 100/s over 20,000/s
    assert throughput.get_yscale() == "log"
    assert [line.get_ydata()[0] for line in throughput.lines] == [250_000]
    legend = throughput.get_legend()
    assert legend is not None
    assert "broker ceiling 250,000/s" in [t.get_text() for t in legend.get_texts()]


def test_a_report_without_runs_or_latency_draws_two_empty_panels_with_a_note(
        tmp_path: Path) -> None:
    report = full_report()
    report.runs, report.latency = [], []

    assert _texts(report) == ["no throughput measured", "latency not measured"]
    render_chart(report, tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes()[:8] == PNG


def test_zero_rates_and_latencies_do_not_break_the_log_scales(tmp_path: Path) -> None:
    report = full_report()
    report.runs = [Run("raw", "sqlite", 0, 0.0, 0.0, 0.0),
                   Run("replay", "sqlite", 1_000, 0.5, 0.4, 90.0),
                   Run("ceiling", "kafka", 0, 0.0, 0.0, 0.0)]
    report.latency = [Latency("sqlite", 100.0, 0.0, 0, 0.0, 0.0, 0.0, 5.0)]

    texts = _texts(report)
    render_chart(report, tmp_path / "zero.png")

    assert "0" in texts  # the raw loop's zero rate, written instead of drawn
    assert "2,000" in texts  # replay: 1,000 events in 0.5 s
    assert "latency all zero (below poll resolution)" in texts
    assert (tmp_path / "zero.png").read_bytes()[:8] == PNG


def test_a_report_with_sqlite_only_and_no_latency_still_draws_the_bars() -> None:
    report = full_report()
    report.runs = [r for r in report.runs if r.backend == "sqlite"]
    report.latency = []

    figure = build_figure(report)

    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["SQLite"]
    assert [t.get_text() for t in figure.axes[1].texts] == ["latency not measured"]
