"""The one exception family of `streams.infra`.

    InfraError                 anything that stops the local stack from starting or stopping
    ├── ToolMissing            Java, Maven or the PostgreSQL binaries are absent: install them
    ├── PortInUse              a requested 127.0.0.1 port is taken: free it or choose another
    └── ServiceFailed          a service exited at start or was not ready in time (message
                               carries the tail of its log)

The CLI prints `str(error)` and exits with status 1; callers never need a traceback.
"""

from __future__ import annotations

__all__ = ["InfraError", "PortInUse", "ServiceFailed", "ToolMissing"]


class InfraError(Exception):
    """Root of every error raised by `streams.infra`; the message says what to do."""


class ToolMissing(InfraError):
    """A required program (java, mvn, initdb/postgres) is not installed or too old."""


class PortInUse(InfraError):
    """A port chosen for a service is already bound by some other process."""


class ServiceFailed(InfraError):
    """A service died while starting, or did not answer its readiness check in time."""

    def __init__(self, service: str, message: str, log_tail: str = "") -> None:
        self.service = service
        self.log_tail = log_tail
        text = message
        if log_tail:
            text = f"{message}\n--- last lines of its log ---\n{log_tail}"
        super().__init__(text)
