"""The service's planning rules that are the business's, not a plan's: today the certification
rule. A base class of `api.settings.Settings` (its fields are `Settings`' own), kept apart so
the settings module stays readable.

* `certification`: the least certification score a crew must hold, per job kind, on the
  domain's 100-point scale (70 compliant, 80 three-star, 90 four-star, 95 five-star), e.g.
  `FIELDROUTE_CERTIFICATION="installation=80,repair=70"`. Every day the service plans or quotes
  is built with it (`api.services.problem_builder`), so a crew below it, or whose score has
  expired, is not eligible for that kind of job and the unassigned reason says so. A plan's own
  `settings.certification` (`POST /plans`) overrides it kind by kind. Empty (the default): no
  certification is needed.
* `callback_policy`: who serves a region's callbacks (repeat visits for the same fault), e.g.
  `FIELDROUTE_CALLBACK_POLICY="urban=prefer_original,rural=different_crew"`:
  `prefer_original` (the default for every region) makes the original crew preferred at a
  soft cost; `different_crew` requires another crew, certified above the original one for
  the job's kind when that is known. A plan's `settings.callbacks` overrides it per region.
* `notice_language`: `zh` (default) or `en`, the language of the customers' notices.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from dispatch.models import CallbackPolicy, JobKind
from dispatch.record_rules import check_id


def parse_certification_rule(text: str) -> dict[JobKind, int]:
    """`installation=80,repair=70` as `{JobKind.INSTALLATION: 80, ...}`; a `ValueError`
    naming the bad part otherwise."""
    rule: dict[JobKind, int] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        kind, sep, score = part.partition("=")
        try:
            job_kind = JobKind(kind.strip().lower())
        except ValueError:
            known = ", ".join(k.value for k in JobKind)
            raise ValueError(f"{kind.strip()!r} is not a job kind ({known})") from None
        if not sep or not score.strip().isdigit() or not 0 <= int(score) <= 100:
            raise ValueError(f"{part.strip()!r}: write kind=score, a whole score from 0 to 100")
        if job_kind in rule:
            raise ValueError(f"{job_kind.value} is given twice")
        rule[job_kind] = int(score)
    return rule


def parse_callback_policy(text: str) -> dict[str, CallbackPolicy]:
    """`urban=prefer_original,rural=different_crew` as `{region: CallbackPolicy}`; a
    `ValueError` naming the bad part otherwise."""
    rule: dict[str, CallbackPolicy] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        region, sep, policy = (x.strip() for x in part.partition("="))
        check_id(region)
        try:
            chosen = CallbackPolicy(policy.lower())
        except ValueError:
            known = ", ".join(p.value for p in CallbackPolicy)
            raise ValueError(
                f"{part.strip()!r}: write region=policy, the policy one of {known}"
            ) from None
        if not sep or region in rule:
            raise ValueError(f"{part.strip()!r}: write each region once, as region=policy")
        rule[region] = chosen
    return rule


class RulesConfig(BaseSettings):
    """The business-rule fields of `api.settings.Settings` (see the module docstring)."""

    certification: str = Field(
        default="",
        max_length=200,
        description="least certification score per job kind, e.g. installation=80,repair=70 "
        "(empty: none needed)",
    )

    notice_language: Literal["zh", "en"] = Field(
        default="zh",
        description="the language of the texts customers get (api.services.notice_texts)",
    )
    callback_policy: str = Field(
        default="",
        max_length=500,
        description="who serves each region's callbacks, e.g. urban=prefer_original,"
        "rural=different_crew (empty: the original crew preferred everywhere)",
    )

    @field_validator("certification")
    @classmethod
    def _rule(cls, value: str) -> str:
        parse_certification_rule(value)
        return value.strip()

    @field_validator("callback_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        parse_callback_policy(value)
        return value.strip()

    @property
    def callback_rule(self) -> dict[str, CallbackPolicy]:
        return parse_callback_policy(self.callback_policy)

    @property
    def certification_rule(self) -> dict[JobKind, int]:
        return parse_certification_rule(self.certification)
