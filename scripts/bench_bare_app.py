"""The stack's own ceiling for scripts/bench_api.py: bare FastAPI endpoints on the same
uvicorn, no database, no auth. `uvicorn scripts.bench_bare_app:app`."""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class EventIn(BaseModel):
    type: str
    device_time: datetime
    lon: float | None = None
    lat: float | None = None


@app.get("/bare")
def bare_get() -> dict[str, bool]:
    return {"ok": True}


@app.post("/bare/{job_id}/events", status_code=201)
def bare_post(job_id: str, body: EventIn) -> dict[str, str]:
    return {"job_id": job_id, "type": body.type}
