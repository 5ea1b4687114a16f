"""The airspace file: the shipped border one, and hostile ones refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gateway.handoff.airspace import Airspace, AirspaceError
from gateway.sim.scenario import BORDER
from gateway.sim.traffic import BORDER_LINE, border_side

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "captures" / "border-airspace.geojson"


def test_shipped_airspace_puts_each_radar_in_its_country() -> None:
    airspace = Airspace.load(SHIPPED)
    assert set(airspace.units) == {"MMTY", "MMZT", "KZAB", "KZHU", "KZLA"}
    units = airspace.unit_at(np.array([r.lat for r in BORDER.radars]),
                             np.array([r.lon for r in BORDER.radars]))
    for radar, unit in zip(BORDER.radars, units, strict=True):
        side = border_side(np.array([radar.lat]), np.array([radar.lon]))[0]
        assert airspace.units[unit].country == ("US" if side > 0 else "MX"), radar.name


def test_units_meet_at_the_simulated_border_and_cops_lie_on_it() -> None:
    airspace = Airspace.load(SHIPPED)
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(22.5, 36.5, 5000), rng.uniform(-119.5, -94.5, 5000)
    countries = [airspace.units[u].country if u else None for u in airspace.unit_at(lat, lon)]
    side = border_side(lat, lon)
    for c, s in zip(countries, side, strict=True):
        assert c == ("US" if s > 0 else "MX")
    for cop in airspace.cops:
        assert len(cop.units) == 2 and {airspace.units[u].country for u in cop.units} == {
            "US", "MX"}
        border_lat = np.interp(cop.lon, [p[1] for p in BORDER_LINE], [p[0] for p in BORDER_LINE])
        assert abs(cop.lat - border_lat) < 1e-3, cop.name


def test_crossing_is_predicted_where_and_when_it_happens() -> None:
    airspace = Airspace.load(SHIPPED)
    # due north from Monterrey at 450 kt: the border (Rio Grande) near 28.2N
    c = airspace.crossing(25.7785, -100.1069, 0.0, 450.0, 3600)
    assert c is not None and (c.src, c.dst) == ("MMTY", "KZHU")
    assert c.cop is not None and c.cop.units == {"MMTY", "KZHU"}
    distance_nm = (c.lat - 25.7785) * 60
    assert abs(c.seconds - distance_nm / 450 * 3600) < 2
    assert airspace.crossing(25.7785, -100.1069, 180.0, 450.0, 3600) is None  # south: no
    assert airspace.crossing(25.7785, -100.1069, 0.0, 450.0, 600) is None  # too far ahead


@pytest.mark.parametrize("doc, reason", [
    ({"type": "Feature"}, "not a GeoJSON FeatureCollection"),
    ({"type": "FeatureCollection", "features": [{"properties": {}, "geometry": {}}]},
     "'kind' must be"),
    ({"type": "FeatureCollection", "features": [
        {"properties": {"kind": "unit", "id": "A"}, "geometry": {"type": "Point"}}]},
     "geometry is a Polygon"),
    ({"type": "FeatureCollection", "features": [
        {"properties": {"kind": "unit", "id": "A", "name": "a", "country": "X"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 1], [1, 0],
                                                          [0, 0]]]}}]},
     "not a valid polygon"),
    ({"type": "FeatureCollection", "features": [
        {"properties": {"kind": "cop", "name": "X", "units": ["A", "B"]},
         "geometry": {"type": "Point", "coordinates": [0, 0]}}]},
     "not defined"),
    ({"type": "FeatureCollection", "features": [
        {"properties": {"kind": "cop", "name": "X", "units": ["A", "B"]},
         "geometry": {"type": "Point", "coordinates": [500, 0]}}]},
     "longitude, latitude"),
])
def test_bad_airspace_is_refused_in_one_line(tmp_path: Path, doc: object, reason: str) -> None:
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(AirspaceError, match=reason) as err:
        Airspace.load(path)
    assert "\n" not in str(err.value)


def test_not_json_or_missing() -> None:
    with pytest.raises(AirspaceError, match="No such file"):
        Airspace.load("/nonexistent.geojson")
    with pytest.raises(AirspaceError, match="not JSON"):
        Airspace.load(Path(__file__))
