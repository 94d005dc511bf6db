"""The store's exceptions, named for what the caller must do.

```
StoreError                  root of everything the store raises on purpose
├── FencedError             this worker no longer owns the partitions: roll back, stop
│   │                       consuming them, re-claim (its generation moved on)
│   └── PositionRegressedError  a position would go backwards: the batch was already
│                           written (or the driver mixed up offsets); roll back, re-seek
├── InvalidRowsError        rendered rows whose columns differ from their table's: a bug
│                           in a view; stop the worker
├── UnknownTableError       a table name that is not one of this projection's views
└── VersionInUseError       refused to drop the live version of a projection
```

Database errors (`sqlalchemy.exc.*`) are not wrapped: they are unknown errors and stop the
worker.
"""

from __future__ import annotations

__all__ = [
    "FencedError",
    "InvalidRowsError",
    "PositionRegressedError",
    "StoreError",
    "UnknownTableError",
    "VersionInUseError",
]


class StoreError(Exception):
    """Root of the store's own errors."""


class FencedError(StoreError):
    """A stale worker tried to write: its generation no longer owns a partition.

    Raised inside the caller's transaction, so leaving the `with engine.begin()` block
    rolls back everything the batch wrote.
    """


class PositionRegressedError(FencedError):
    """A batch would move a partition's stored position backwards."""


class UnknownTableError(StoreError, KeyError):
    """A view table name that this projection does not have."""


class VersionInUseError(StoreError):
    """A projection version that is live cannot be dropped without `force=True`."""


class InvalidRowsError(StoreError, ValueError):
    """Rendered rows that do not match their table's columns (a bug in a view)."""
