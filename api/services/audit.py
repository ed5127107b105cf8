"""The audit log: who did what to a plan or job, and when (imports, cancellations,
publications, overrides, webhook changes). One helper so every entry has the same shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from api.principals import Principal
from api.storage.models import AuditRow


def record_audit(
    session: Session,
    principal: Principal,
    action: str,
    now: datetime,
    *,
    plan_id: str | None = None,
    job_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the caller's transaction (it commits with the change)."""
    session.add(
        AuditRow(
            at=now,
            actor=principal.subject,
            role=principal.role.value,
            action=action,
            plan_id=plan_id,
            job_id=job_id,
            details=details or {},
        )
    )
