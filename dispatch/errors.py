"""Domain errors that name the offending record and field.

Every bad input in the engine surfaces as an `InputError` (one problem) or an `InputErrors`
(all problems of one import at once), so a dispatcher can fix a file in one pass.
"""

from __future__ import annotations


class InputError(ValueError):
    """One invalid value: which record, which field, and what is wrong with it."""

    def __init__(self, record: str, field: str, message: str) -> None:
        self.record = record
        self.field = field
        self.message = message
        super().__init__(f"{record}: field '{field}': {message}")

    def as_dict(self) -> dict[str, str]:
        return {"record": self.record, "field": self.field, "message": self.message}


class InputErrors(ValueError):
    """Several invalid values found in one pass (an import is all-or-nothing)."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  - {e}" for e in errors)
        super().__init__(f"{len(errors)} invalid value(s):\n{lines}")
