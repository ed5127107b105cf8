"""The working day a re-plan edits: each crew's visit sequence (`CrewSequences`), and the
ledger of what the re-plan did to it (`Ledger`: stops released and from which crew, stats).

Every phase works on crew and visit indexes of the re-plan problem
(`dispatch.running.replan.problem`). A crew's sequence starts with its **pinned** stops (done or in
progress, by actual start), then its **frozen** ones (kept in place near `at`): together its
**prefix**, which no phase inserts into or re-orders. The rest are kept stops and, later,
inserted ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CrewSequences:
    """Per crew index: the visit sequence, lunch position, and the part that stays put."""

    seqs: dict[int, list[int]]
    #: crew -> the lunch is taken after this position of its sequence (-1: before the first)
    hints: dict[int, int]
    pinned: dict[int, int]  # number of pinned stops at the head of the sequence
    prefix: dict[int, int]  # pinned + frozen stops at the head of the sequence

    def remove(self, k: int, v: int) -> None:
        seq = self.seqs[k]
        i = seq.index(v)
        del seq[i]
        if i < self.prefix[k]:
            self.prefix[k] -= 1
        if k in self.hints and i <= self.hints[k]:
            self.hints[k] -= 1  # the lunch stays in the same gap between stops

    def insert(self, k: int, pos: int, v: int, hint: int | None) -> None:
        self.seqs.setdefault(k, []).insert(pos, v)
        self.pinned.setdefault(k, 0)
        self.prefix.setdefault(k, 0)
        if hint is not None:
            self.hints[k] = hint

    def copy(self) -> CrewSequences:
        return CrewSequences(
            {k: list(s) for k, s in self.seqs.items()},
            dict(self.hints),
            dict(self.pinned),
            dict(self.prefix),
        )

    def restore(self, other: CrewSequences) -> None:
        self.seqs, self.hints, self.pinned, self.prefix = (
            other.seqs,
            other.hints,
            other.pinned,
            other.prefix,
        )

    def crew_of(self) -> dict[int, int]:
        return {v: k for k, seq in self.seqs.items() for v in seq}


@dataclass
class Ledger:
    """What one re-plan did so far: the stops it released, and its stats."""

    #: a released stop (orphan) -> the crew it was on; inserting it elsewhere is a move
    origin: dict[int, int] = field(default_factory=dict)
    #: frozen stops released because keeping them would break a hard rule
    released_frozen: set[int] = field(default_factory=set)
    stats: dict[str, float] = field(default_factory=dict)
