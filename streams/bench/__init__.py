"""`onestop bench`: our pipeline side by side with the broker's ceiling, a raw loop and a
naive projector, on one generated province, in one run (see `streams.bench.runner`).

Modules:

- `model`    — the result records (`Run`, `Latency`, `TargetCheck`, `BenchReport`), JSON in/out;
- `measure`  — run a contender as a child process and read its CPU and peak memory (`wait4`);
- `rawloop`  — contender (b): aiokafka `getmany()` + fastavro + SQLAlchemy Core executemany;
- `naive`    — contender (e): the ORM, one transaction per event, on a sample;
- `ceiling`  — contender (a): Kafka's own ConsumerPerformance tool;
- `latency`  — produce at fixed rates, time until visible in the portal read model;
- `report`, `chart` — the Markdown/JSON report and the PNG chart;
- `runner`   — the whole run.
"""
