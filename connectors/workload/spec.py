"""The size and mix knobs of a generated province (one frozen value, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WorkloadSpec"]


@dataclass(frozen=True)
class WorkloadSpec:
    """What to generate: one province, one calendar year.

    ``dossiers`` is the main size knob; the catalogue scales with ``procedures`` and
    ``communes`` (commune-level procedures are applied at every commune).
    ``online_share`` is the target share of ONLINE submissions, ``late_share`` the target
    share of late resolutions among dossiers that have a due date.
    """

    seed: int = 42
    province_code: str = "H56"
    year: int = 2025
    departments: int = 20
    communes: int = 100
    procedures: int = 2000
    dossiers: int = 10_000
    online_share: float = 0.85
    late_share: float = 0.10

    def __post_init__(self) -> None:
        if not 2000 <= self.year <= 2100:
            raise ValueError(f"year out of range: {self.year}")
        if self.departments < 1 or self.communes < 1 or self.procedures < 1:
            raise ValueError("departments, communes and procedures must be at least 1")
        if self.dossiers < 0:
            raise ValueError("dossiers must not be negative")
        if not 0.0 <= self.online_share <= 1.0 or not 0.0 <= self.late_share <= 0.5:
            raise ValueError("online_share must be in [0, 1] and late_share in [0, 0.5]")
