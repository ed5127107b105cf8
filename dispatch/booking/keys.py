"""A cache key that hashes its value once.

A day's content is 1,500 jobs and 275 crews; hashing them again on every lookup of a kept
day or screening would cost more than the quote. `Key` hashes its value when made and
compares values only when the hashes match (by identity first: a key found in a cache is
usually the very object kept there)."""

from __future__ import annotations

from collections.abc import Hashable


class Key:
    """`value` (hashable), hashed once."""

    __slots__ = ("_hash", "value")

    def __init__(self, value: Hashable) -> None:
        self.value = value
        self._hash = hash(value)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Key) or self._hash != other._hash:
            return False
        return bool(self.value == other.value)

    def __repr__(self) -> str:
        return f"Key({self._hash})"
