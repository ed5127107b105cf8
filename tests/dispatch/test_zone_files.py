"""Zones from GeoJSON, Shapefile and GeoPackage files in any CRS (`dispatch.files.zone_files`)."""

from __future__ import annotations

import json

import geopandas
import pytest
from shapely.geometry import Point, Polygon, box

from dispatch.errors import InputError, InputErrors
from dispatch.files.coords import wgs84_to_gcj02
from dispatch.files.zone_files import read_zones

#: two neighbouring zones in central Shanghai, in WGS-84
WEST = box(121.40, 31.20, 121.45, 31.25)
EAST = box(121.45, 31.20, 121.50, 31.25)
INSIDE_WEST = Point(121.42, 31.22)


def _frame(**columns):
    return geopandas.GeoDataFrame(
        columns or {"zone_id": ["Z1", "Z2"], "name": ["West", "East"]},
        geometry=[WEST, EAST],
        crs=4326,
    )


def test_geojson_in_lon_lat(tmp_path):
    path = tmp_path / "zones.geojson"
    _frame().to_file(path, driver="GeoJSON")
    zones = read_zones(path)
    assert [(z.id, z.name) for z in zones] == [("Z1", "West"), ("Z2", "East")]
    assert zones[0].polygon.covers(INSIDE_WEST) and not zones[1].polygon.covers(INSIDE_WEST)


def test_geopackage_in_a_projected_crs_is_reprojected(tmp_path):
    path = tmp_path / "zones.gpkg"
    _frame().to_crs(32651).to_file(path, driver="GPKG")  # UTM zone 51N, metres
    zones = read_zones(path)
    assert zones[0].polygon.covers(INSIDE_WEST)
    assert zones[0].polygon.symmetric_difference(WEST).area < 1e-8


def test_shapefile_with_an_id_column_and_no_names(tmp_path):
    path = tmp_path / "zones.shp"
    geopandas.GeoDataFrame({"id": ["A", "B"]}, geometry=[WEST, EAST], crs=4326).to_file(path)
    zones = read_zones(path)
    assert [(z.id, z.name) for z in zones] == [("A", "A"), ("B", "B")]


def test_gcj02_boundaries_are_converted(tmp_path):
    """A zone drawn on AMap (GCJ-02) lands about 500 m south-west once converted."""
    shifted = Polygon([wgs84_to_gcj02(x, y) for x, y in WEST.exterior.coords])
    path = tmp_path / "zones.geojson"
    geopandas.GeoDataFrame({"zone_id": ["Z1"]}, geometry=[shifted], crs=4326).to_file(path)
    raw = read_zones(path)[0].polygon
    converted = read_zones(path, "gcj02")[0].polygon
    assert converted.symmetric_difference(WEST).area < 1e-10
    assert raw.symmetric_difference(WEST).area > 1e-6


def test_problems_are_named_per_feature(tmp_path):
    bowtie = Polygon([(121.40, 31.20), (121.45, 31.25), (121.45, 31.20), (121.40, 31.25)])
    frame = geopandas.GeoDataFrame(
        {"zone_id": ["Z1", "Z1", "", "Z4"]},
        geometry=[WEST, EAST, EAST, bowtie],
        crs=4326,
    )
    path = tmp_path / "zones.geojson"
    frame.to_file(path, driver="GeoJSON")
    with pytest.raises(InputErrors) as caught:
        read_zones(path)
    messages = [str(e) for e in caught.value.errors]
    assert any("zone Z1" in m and "repeats feature 1" in m for m in messages)
    assert any("feature 3" in m and "zone_id" in m for m in messages)
    assert any("zone Z4" in m and "not a valid polygon" in m for m in messages)


def test_files_that_cannot_be_zones(tmp_path):
    points = tmp_path / "points.geojson"
    geopandas.GeoDataFrame({"zone_id": ["P"]}, geometry=[INSIDE_WEST], crs=4326).to_file(points)
    with pytest.raises(InputErrors, match="a zone needs a Polygon"):
        read_zones(points)
    no_id = tmp_path / "noid.geojson"
    geopandas.GeoDataFrame({"label": ["x"]}, geometry=[WEST], crs=4326).to_file(no_id)
    with pytest.raises(InputError, match="no zone_id or id column"):
        read_zones(no_id)
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(InputError, match="no features"):
        read_zones(empty)
    garbage = tmp_path / "zones.gpkg"
    garbage.write_text("not a geopackage")
    with pytest.raises(InputError, match="cannot be read as zones"):
        read_zones(garbage)
    with pytest.raises(InputError, match="expected one of"):
        read_zones(tmp_path / "zones.csv")
