"""What the roles without personal data see of a customer's location (`dispatch.privacy`)."""

from __future__ import annotations

from dispatch.privacy import COARSE_DECIMALS, coarse, coarse_job_fields


def test_coordinates_keep_two_decimals_and_the_door_is_left_out():
    assert COARSE_DECIMALS == 2
    assert coarse(121.473456) == 121.47 and coarse(31.23789) == 31.24
    stop = {"job_id": "J1", "lon": 121.473456, "lat": 31.23789, "floor": 12, "has_lift": False}
    shown = coarse_job_fields(stop)
    assert shown == {"job_id": "J1", "lon": 121.47, "lat": 31.24, "floor": None, "has_lift": None}
    assert stop["lon"] == 121.473456  # a new dict: the original is untouched


def test_records_without_location_pass_through():
    assert coarse_job_fields({"id": "J1", "lon": None}) == {"id": "J1", "lon": None}
