"""The service's slot grid for quotes. A base class of `api.settings.Settings` (its fields are
`Settings`' own: `FIELDROUTE_QUOTE_SLOTS`, `FIELDROUTE_QUOTE_LEAD_MINUTES`), kept apart so
the settings module stays readable.

* `quote_slots`: the appointment windows a customer can book each day, comma-separated
  `HH:MM-HH:MM`, every one as long as the others and none overlapping another
  (`dispatch.booking.slots.grid_from_spec`). Default the retailer's five 2-hour slots,
  `08:00-10:00,10:00-12:00,12:00-14:00,14:00-16:00,16:00-18:00`.
* `quote_lead_minutes`: a slot is offered only when it starts at least this long after the
  quote (default 60: a crew already on its way cannot be promised a door it has not heard
  of).

Both are checked when the settings are read, so a service with a malformed grid refuses to
start, naming the variable and what is wrong with it. A quote's number of days is its own
(`POST /quotes` `days`, default 2).
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from dispatch.booking.slots import DEFAULT_SPEC, SlotGrid, grid_from_spec
from dispatch.errors import InputError


class QuoteConfig(BaseSettings):
    """The slot-grid fields of `api.settings.Settings` (see the module docstring)."""

    quote_slots: str = Field(
        default=DEFAULT_SPEC,
        max_length=2000,
        description="the bookable slots of each day: comma-separated HH:MM-HH:MM, all of one "
        "length, none overlapping (a slot is the window the crew starts work in)",
    )
    quote_lead_minutes: int = Field(
        default=60,
        ge=0,
        le=24 * 60,
        description="a slot is offered only when it starts at least this many minutes after "
        "the quote",
    )

    @field_validator("quote_slots")
    @classmethod
    def _slot_spec(cls, value: str) -> str:
        try:
            grid_from_spec(value)
        except InputError as exc:
            raise ValueError(exc.message) from None
        return value

    def quote_grid(self) -> SlotGrid:
        """The slot grid quotes offer (its number of days is each quote's own)."""
        return grid_from_spec(self.quote_slots, self.quote_lead_minutes)
