"""The service's one `Settings` object: read from the environment (and `.env`), never at import.

Every knob of the service lives here, with a default that works on a laptop: an SQLite file
database in the working directory, development mode, a development signing secret. Outside
development the service refuses to start with that secret (`Settings.check_for_startup`).

Times: the service keeps every time as a naive local time of the region it serves
(`timezone`, Asia/Shanghai by default), the same clock the planner uses. Times sent with an
offset (a phone's device time, say) are converted to it on input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the signing secret used when none is configured: fine on a laptop, refused in production
DEVELOPMENT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    """Service configuration. Environment variables are `FIELDROUTE_<NAME>`, plus `DATABASE_URL`."""

    model_config = SettingsConfigDict(
        env_prefix="FIELDROUTE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///fieldroute.db",
        validation_alias=AliasChoices("DATABASE_URL", "FIELDROUTE_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL: sqlite:///FILE (default) or postgresql+psycopg://...",
    )
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    token_ttl_hours: float = 12.0
    timezone: str = "Asia/Shanghai"

    # planning
    plan_time_limit_s: float = Field(default=30.0, gt=0)
    plan_solution_limit: int | None = Field(default=None, gt=0)
    plan_workers: int = Field(default=0, ge=0, description="zone solves per plan (0: CPUs)")
    max_running_plans: int = Field(default=1, ge=1, description="plans solved at the same time")

    # season simulations (api.background.simulation_runner): replications run one after another in
    # the worker, or on this Dask scheduler (tcp://host:8786) when one is named
    dask_scheduler: str = Field(
        default="",
        max_length=500,
        description="Dask scheduler address for simulation replications (empty: serial)",
    )

    # input limits
    max_import_rows: int = Field(default=20_000, gt=0)
    max_body_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    page_size_max: int = Field(default=500, gt=0)

    # after-sales rules (domain.md): same fault guaranteed half a year; installs configurable
    repair_guarantee_days: int = Field(default=180, ge=0)
    installation_callback_days: int = Field(default=30, ge=0)

    # webhooks
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_backoff_s: float = Field(default=2.0, gt=0)
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_poll_s: float = Field(default=1.0, gt=0)

    # re-plans and customer notices (api.services.notices, api.background.notice_sender)
    eta_tolerance_minutes: int = Field(
        default=30,
        ge=1,
        le=240,
        description="a customer is told again when the arrival time moves by more than this",
    )
    freeze_minutes: int = Field(
        default=60, ge=0, le=600, description="a re-plan keeps stops starting this soon as they are"
    )
    notice_webhook_url: str | None = Field(
        default=None,
        description="where customer notices are POSTed (an SMS gateway's adapter); none: "
        "notices stay pending, visible in the API",
    )
    notice_webhook_secret: SecretStr = SecretStr("")

    # the board's map (api/http/routers/web.py): no tile URL draws routes on a plain background,
    # so air-gapped sites and the tests work offline
    map_tile_url: str = Field(
        default="",
        max_length=500,
        description="tile URL template, e.g. https://tiles.example/{z}/{x}/{y}.png (empty: none)",
    )
    map_tile_attribution: str = Field(default="", max_length=500)
    map_tile_coords: Literal["wgs84", "gcj02"] = Field(
        default="wgs84",
        description="the tiles' coordinate system: gcj02 for AMap or Tencent tiles; the page "
        "shifts what it draws, the API stays in WGS-84",
    )

    #: start the plan runner and webhook sender threads with the app (tests may turn off)
    background_workers: bool = True

    def check_for_startup(self) -> None:
        """Refuse to serve outside development with the default signing secret."""
        if self.environment != "development" and (
            self.secret_key.get_secret_value() == DEVELOPMENT_SECRET
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise RuntimeError(
                "FIELDROUTE_SECRET_KEY must be set to a secret of at least 32 characters "
                f"outside development (environment is {self.environment!r})"
            )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def now(self) -> datetime:
        """The region's local time now, naive (the service's one clock)."""
        return datetime.now(self.tz).replace(tzinfo=None, microsecond=0)

    def local(self, moment: datetime) -> datetime:
        """A client-sent time in the region's naive local time (naive input is taken as local)."""
        if moment.tzinfo is None:
            return moment
        return moment.astimezone(self.tz).replace(tzinfo=None)
