"""`up` and `down`: the local stack as a whole.

`up` fetches what is missing, then starts the three services side by side (one thread each:
prepare, spawn, wait for a client-level answer), recording every pid in `state.json` the moment
it exists. If any service fails, the others are abandoned and every process this call started
is stopped before the error is raised. Commands on one home are serialised by a file lock.
"""

from __future__ import annotations

import fcntl
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

from streams.infra.errors import InfraError, PortInUse, ServiceFailed
from streams.infra.health import PROBES, services_of
from streams.infra.paths import Layout
from streams.infra.plans import PORT_NAMES, SERVICES, Launch, Progress, launchers, versions
from streams.infra.ports import HOST, check_free, mentions_address_in_use, pick_ports
from streams.infra.process import Cancelled, is_running, stop_all, wait_until_ready
from streams.infra.services import Services
from streams.infra.state import ServiceRecord, StackState, read_state, write_state

__all__ = ["READY_TIMEOUT", "down", "up"]

READY_TIMEOUT = 120.0
PORT_ATTEMPTS = 3
LOCK_TIMEOUT = 600.0


def _quiet(_: str) -> None:
    pass


@contextmanager
def _home_lock(layout: Layout) -> Iterator[None]:
    layout.home.mkdir(parents=True, exist_ok=True)
    with layout.lock_file.open("a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InfraError(
                        f"another `onestop infra` command is busy with {layout.home} "
                        f"(lock {layout.lock_file})"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stop_and_clean(layout: Layout, records: Sequence[ServiceRecord]) -> dict[str, str]:
    """Stop the recorded pids, delete their data dirs (only inside `run/`), forget the state."""
    outcome = stop_all({r.ref: r.stop_signal for r in records})
    run = layout.run.resolve()
    for record in records:
        for directory in map(Path, record.data_dirs):
            if directory.resolve().is_relative_to(run):
                shutil.rmtree(directory, ignore_errors=True)
    layout.state_file.unlink(missing_ok=True)
    return {r.name: f"pid {r.pid} {outcome[r.ref]}" for r in records}


def _still_serving(state: StackState, timeout: float) -> bool:
    """True if the recorded stack is complete, alive and answering.

    A recorded service that is alive but does not answer within `timeout` is an error, not a
    reason to restart: others may be using that stack, so it is left alone.
    """
    if state.status != "ready" or {s.name for s in state.services} != set(SERVICES):
        return False
    for record in state.services:
        try:
            wait_until_ready(
                record.name,
                record.ref,
                partial(PROBES[record.name], record, False),
                log_path=Path(record.log),
                timeout=timeout,
            )
        except ServiceFailed as exc:
            if not is_running(record.ref):
                return False
            raise InfraError(
                f"the recorded {record.name} (pid {record.pid}) runs but does not answer; it was "
                "left alone: look at its log, or run `onestop infra down` then `up`\n"
                f"{exc.log_tail}"
            ) from exc
    return True


def _start_one(
    name: str,
    launch: Launch,
    fixed: Mapping[str, int],
    extra: Sequence[str],
    timeout: float,
    cancel: threading.Event,
    on_spawn: Callable[[ServiceRecord], None],
    say: Progress,
) -> ServiceRecord:
    """Launch one service and wait for it; on a port race with chosen ports, try new ones."""
    own_fixed = {n: p for n, p in fixed.items() if n in PORT_NAMES[name]}
    for attempt in range(1, PORT_ATTEMPTS + 1):
        if cancel.is_set():
            raise Cancelled(f"{name}: start abandoned")
        ports = pick_ports(PORT_NAMES[name], own_fixed)
        check_free(own_fixed)
        started = time.monotonic()
        record = launch(ports, extra)
        on_spawn(record)
        try:
            wait_until_ready(
                name,
                record.ref,
                partial(PROBES[name], record, True),
                log_path=Path(record.log),
                timeout=timeout,
                cancel=cancel,
            )
        except ServiceFailed as exc:
            if is_running(record.ref) or not mentions_address_in_use(exc.log_tail):
                raise
            if own_fixed or attempt == PORT_ATTEMPTS:
                taken = ", ".join(f"{HOST}:{p}" for p in ports.values())
                raise PortInUse(
                    f"{name}: one of its ports is already in use ({taken})\n{exc.log_tail}"
                ) from exc
            say(f"{name}: a chosen port was taken meanwhile; retrying on new ports")
            continue
        seconds = time.monotonic() - started
        say(f"{name} ready on {record.url} ({seconds:.1f} s)")
        return record.ready_after(seconds)
    raise AssertionError("unreachable")


def _start_all(
    layout: Layout,
    launch: Mapping[str, Launch],
    fixed: Mapping[str, int],
    extra: Mapping[str, Sequence[str]],
    timeout: float,
    say: Progress,
) -> tuple[ServiceRecord, ...]:
    """Start every service in its own thread; on any failure stop all that were spawned."""
    started: dict[str, ServiceRecord] = {}
    guard, cancel = threading.Lock(), threading.Event()

    def on_spawn(record: ServiceRecord) -> None:
        with guard:
            started[record.name] = record
            state = StackState(str(layout.home), "starting", versions(), tuple(started.values()))
            write_state(layout.state_file, state)

    pool = ThreadPoolExecutor(max_workers=len(SERVICES), thread_name_prefix="infra-up")
    ready: dict[str, ServiceRecord] = {}
    errors: list[BaseException] = []
    try:
        futures: dict[Future[ServiceRecord], str] = {
            pool.submit(
                _start_one,
                name,
                launch[name],
                fixed,
                tuple(extra.get(name, ())),
                timeout,
                cancel,
                on_spawn,
                say,
            ): name
            for name in SERVICES
        }
        for future in as_completed(futures):
            try:
                ready[futures[future]] = future.result()
            except BaseException as exc:  # collected; the other services are abandoned
                errors.append(exc)
                cancel.set()
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True)
        if errors or len(ready) < len(SERVICES):
            say("start failed: stopping the services this call started")
            _stop_and_clean(layout, list(started.values()))
    if errors:
        raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
    return tuple(ready[name] for name in SERVICES)


def up(
    home: Path,
    *,
    cache: Path | None = None,
    ports: Mapping[str, int] | None = None,
    extra_args: Mapping[str, Sequence[str]] | None = None,
    ready_timeout: float = READY_TIMEOUT,
    progress: Progress | None = None,
) -> Services:
    """Start Kafka, Apicurio and PostgreSQL under `home` (or return the running ones).

    `ports` fixes some ports by name (kafka, kafka-controller, registry, registry-management,
    postgres); the rest are chosen free. `extra_args` adds command-line arguments per service
    (JVM options for kafka/registry, server options for postgres). `cache` defaults to
    `<home>/cache`.
    """
    layout, say = Layout.of(home, cache), progress or _quiet
    fixed, extra = dict(ports or {}), dict(extra_args or {})
    known = {n for names in PORT_NAMES.values() for n in names}
    if unknown := (set(fixed) - known) | (set(extra) - set(SERVICES)):
        raise InfraError(f"unknown service or port name(s): {', '.join(sorted(unknown))}")
    with _home_lock(layout):
        state = read_state(layout.state_file)
        if state is not None:
            if _still_serving(state, ready_timeout):
                running = ", ".join(f"{s.name} pid {s.pid}" for s in state.services)
                say(f"already running under {layout.home}: {running}")
                if state.versions != versions():
                    say(f"note: it runs {state.versions}; `down` then `up` to switch versions")
                return services_of(state)
            say("a previous stack is recorded but not healthy: stopping what is left of it")
            _stop_and_clean(layout, state.services)
        check_free(fixed)  # a port the caller fixed is taken: say so before starting
        records = _start_all(layout, launchers(layout, say), fixed, extra, ready_timeout, say)
        state = StackState(str(layout.home), "ready", versions(), records)
        state = replace(state, env=services_of(state).env())
        write_state(layout.state_file, state)
        return services_of(state)


def down(home: Path, *, progress: Progress | None = None) -> dict[str, str]:
    """Stop exactly the recorded pids (SIGTERM/SIGINT, SIGKILL after 30 s), delete run data."""
    layout, say = Layout.of(home), progress or _quiet
    with _home_lock(layout):
        state = read_state(layout.state_file)
        if state is None:
            say(f"nothing recorded under {layout.home}")
            return {}
        outcome = _stop_and_clean(layout, state.services)
    for name, how in outcome.items():
        say(f"{name}: {how}")
    return outcome
