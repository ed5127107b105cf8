"""How a re-plan trades change against driving (`ReplanOptions`; see `dispatch.running.replan`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplanOptions:
    """How a re-plan trades change against driving (see the `dispatch.running.replan` docstring)."""

    #: a crew's stops planned to start within this many minutes after `at` stay in place
    freeze_minutes: int = 60
    #: an ETA moved by more than this (either way) means telling the customer again
    eta_tolerance_minutes: int = 30
    #: wall-clock budget; phase 3 uses what phases 1-2 leave of it
    time_limit_s: float = 5.0
    #: stop the phase-3 solve after this many improving solutions (reproducible runs)
    solution_limit: int | None = None
    move_weight_m: int = 10_000
    eta_weight_m: int = 5_000
    late_weight_m_per_min: int = 1_000
    #: crews whose route passes farther than this from a job are not tried for it
    reach_m: int = 15_000
    #: bound on insertion evaluations (keeps phase 2 deterministic and fast)
    max_evaluations: int = 60_000
    #: also offer the previously unassigned jobs to the crews
    retry_unassigned: bool = False
    #: allow phase 3 (OR-Tools, warm-started) for jobs insertion could not place
    reoptimise: bool = True

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        for name in (
            "freeze_minutes",
            "eta_tolerance_minutes",
            "move_weight_m",
            "eta_weight_m",
            "late_weight_m_per_min",
            "reach_m",
            "max_evaluations",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
