"""The texts customers get, in Chinese (the default, `FIELDROUTE_NOTICE_LANGUAGE=zh`) and
English (`en`), one template per notice kind.

Arrival times are rounded to 5 minutes (`api.services.notices.round_eta`); the band is the
rounded arrival plus and minus the tolerance, which is exactly the promise that a larger move
is announced again. Templates hold no personal data of their own; the tracking link's token
is the only secret a text carries (hidden from the roles that do not see personal data).

    kind          when (English text)
    eta           a route is published: "Arriving about 14:00 (between 13:30 and 14:30) ..."
    eta_changed   a re-plan moved it beyond the tolerance: "New arrival time: ..."
    late          a re-plan puts it past its promise: "Sorry, the crew is running late ..."
    departed      the crew reports it set out for the visit: "Your crew is on the way ..."
    running_late  the day's reports predict the crew more than 15 minutes past the booked
                  window: "Sorry, the crew is running behind ..."
    done          the visit is completed, the follow-up call announced
"""

from __future__ import annotations

from datetime import datetime, timedelta

LANGUAGES = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "eta": "Arriving about {about} (between {low} and {high}), please have someone at home.",
        "eta_changed": (
            "New arrival time: about {about} (between {low} and {high}), please have someone "
            "at home."
        ),
        "late": (
            "Sorry, the crew is running late: now arriving about {about} (between {low} and "
            "{high}). We apologise for the delay."
        ),
        "departed": "Your crew is on the way: arriving about {about} (between {low} and {high}).",
        "running_late": (
            "Sorry, the crew is running behind: now expected about {about} (between {low} and "
            "{high}), later than your booked time. We apologise for the delay."
        ),
        "done": (
            "Your {work} is done. Thank you! We will call you within {days} days to ask how "
            "it went."
        ),
        "track": " Follow your visit: {link}",
    },
    "zh": {
        "eta": "师傅预计{about}左右上门（{low}至{high}之间），请安排家中有人。",
        "eta_changed": "上门时间有变：预计{about}左右到达（{low}至{high}之间），请安排家中有人。",
        "late": "抱歉，师傅将晚到：现预计{about}左右到达（{low}至{high}之间），敬请谅解。",
        "departed": "师傅已出发，预计{about}左右到达（{low}至{high}之间）。",
        "running_late": (
            "抱歉，师傅前一单耽误了时间：现预计{about}左右到达（{low}至{high}之间），"
            "晚于您预约的时段，敬请谅解。"
        ),
        "done": "您的{work}服务已完成，感谢您的支持！我们将在{days}天内回访，了解您的满意度。",
        "track": " 查看进度：{link}",
    },
}
WORK = {
    "en": {"delivery": "delivery", "installation": "installation", "repair": "repair",
           "pickup": "pick-up"},
    "zh": {"delivery": "送货", "installation": "安装", "repair": "维修", "pickup": "取件"},
}  # fmt: skip
#: the follow-up call a done notice announces comes within this many days
FOLLOW_UP_DAYS = 3


def notice_text(
    kind: str, eta: datetime, tolerance_minutes: int, language: str = "en", *, work: str = ""
) -> str:
    """The message for a notice of `kind` about an arrival at `eta` (already rounded); `work`
    is the job's kind (for `done`)."""
    texts = TEXTS.get(language)
    if texts is None:
        raise ValueError(f"unknown notice language {language!r}; one of {', '.join(LANGUAGES)}")
    if kind not in texts or kind == "track":
        raise ValueError(f"unknown notice kind {kind!r}")
    band = timedelta(minutes=tolerance_minutes)
    about, low, high = (f"{t:%H:%M}" for t in (eta, eta - band, eta + band))
    done = WORK[language].get(work, work)
    return texts[kind].format(about=about, low=low, high=high, work=done, days=FOLLOW_UP_DAYS)


def track_text(link: str, language: str = "en") -> str:
    """What a notice adds to point at the customer's tracking page."""
    return TEXTS[language]["track"].format(link=link)
