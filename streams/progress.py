"""A one-line progress report on stderr for long operator commands (`onestop replay`).

`Progress.update(phase, done, total)` redraws one line at most every `interval_s` seconds:

    portal  catalogue   12,345/52,000 events   4,321 ev/s   ETA 9s

On a terminal the line is redrawn in place (carriage return, erase to end of line); into a
file or pipe a plain line is written every `log_every_s` seconds instead, so logs stay
readable. `finish(text)` ends the line and prints `text`. The formatting helpers are pure.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "format_duration", "progress_line"]


def format_duration(seconds: float | None) -> str:
    """`9s`, `2m05s`, `1h02m`; `?` when unknown (no rate yet) or not finite."""
    if seconds is None or seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "?"
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def eta_seconds(done: int, total: int, rate: float) -> float | None:
    """Seconds left at `rate` events/s (None while the rate is unknown)."""
    if rate <= 0:
        return None
    return max(0, total - done) / rate


def progress_line(label: str, phase: str, done: int, total: int, elapsed_s: float) -> str:
    """The text of one progress line (see the module docstring)."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta = eta_seconds(done, total, rate)
    return (
        f"{label:<8} {phase:<10} {done:>9,}/{max(total, done):,} events   "
        f"{rate:>8,.0f} ev/s   ETA {format_duration(eta)}"
    )


class Progress:
    """Draws `progress_line` on `stream` (default stderr), throttled."""

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        interval_s: float = 0.5,
        log_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = interval_s if self.tty else log_every_s
        self.clock = clock
        self.enabled = enabled
        self.started = clock()
        self._last_draw: float | None = None
        self._drawn = False

    def elapsed(self) -> float:
        """Seconds since the progress started."""
        return self.clock() - self.started

    def update(self, phase: str, done: int, total: int, *, force: bool = False) -> None:
        """Redraw if `interval_s` has passed since the last draw (or `force`)."""
        if not self.enabled:
            return
        now = self.clock()
        if not force and self._last_draw is not None and now - self._last_draw < self.interval_s:
            return
        self._last_draw = now
        line = progress_line(self.label, phase, done, total, now - self.started)
        if self.tty:
            self.stream.write(f"\r{line}\x1b[K")
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, text: str | None = None) -> None:
        """End the updating line; write `text` (if any) on a line of its own."""
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self._drawn = False
        if text is not None:
            self.stream.write(text + "\n")
        self.stream.flush()
