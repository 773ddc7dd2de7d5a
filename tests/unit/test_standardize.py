import copy

import pytest
from pyspark.sql import functions as F

from parking_sensors.load import Load
from parking_sensors.schema import RAW_BAY_SCHEMA, RAW_SENSOR_SCHEMA
from parking_sensors.standardize import standardize_bays, standardize_sensors
from parking_sensors.tables import read_raw_json
from tests.conftest import SAMPLE, write_extract

LOAD = Load.parse("load-1", "2026-11-26T10:15:30Z")


def _sensors(spark, rows):
    return spark.createDataFrame([tuple(r.get(f.name) for f in RAW_SENSOR_SCHEMA.fields) for r in rows],
                                 RAW_SENSOR_SCHEMA)


def _bays(spark, rows):
    return spark.createDataFrame([tuple(r.get(f.name) for f in RAW_BAY_SCHEMA.fields) for r in rows], RAW_BAY_SCHEMA)


def _reasons(result):
    return {r["bay_id"]: r["reason"] for r in result.malformed.collect()}


@pytest.fixture(scope="module")
def real_sensors(spark):
    return standardize_sensors(read_raw_json(spark, str(SAMPLE / "MelbParkingSensorData.json"), RAW_SENSOR_SCHEMA),
                               LOAD)


@pytest.fixture(scope="module")
def real_bays(spark):
    return standardize_bays(read_raw_json(spark, str(SAMPLE / "MelbParkingBayData.json"), RAW_BAY_SCHEMA), LOAD)


def test_real_sensor_extract_with_its_bom_is_fully_typed(real_sensors):
    good = real_sensors.good
    assert good.count() == 1000 and real_sensors.malformed.count() == 0
    assert dict(good.dtypes) == {"bay_id": "int", "st_marker_id": "string", "status": "string", "lat": "double",
                                 "lon": "double", "location": "string", "load_id": "string", "loaded_on": "timestamp"}
    first = good.where("bay_id = 1273").first()
    assert (first.st_marker_id, first.status) == ("4465W", "Unoccupied")
    assert first.lat == pytest.approx(-37.81372901485175) and first.lon == pytest.approx(144.95437806442817)
    assert '"type":"Point"' in first.location.replace(" ", "")
    assert {r.status for r in good.select("status").distinct().collect()} == {"Present", "Unoccupied"}


def test_real_bay_extract_resolves_its_two_duplicate_bay_ids(real_bays):
    assert real_bays.good.count() == 998
    assert _reasons(real_bays) == {"21024": "duplicate bay_id: superseded by another row",
                                   "21380": "duplicate bay_id: superseded by another row"}
    row = real_bays.good.where("bay_id = 3787").first()
    assert str(row.last_edit) == "2019-08-22 10:41:02"
    assert row.rd_seg_id == 21860 and row.rd_seg_dsc.startswith("Clarendon Street")
    assert row.the_geom.startswith('{"type":"MultiPolygon"')
    # Rows without a road segment are valid: the segment is optional.
    assert real_bays.good.where("rd_seg_id IS NULL").count() == 17


def test_geometry_stays_usable_geojson(spark, real_bays):
    geometry = "type STRING, coordinates ARRAY<ARRAY<ARRAY<ARRAY<DOUBLE>>>>"
    parsed = real_bays.good.select(F.from_json("the_geom", geometry).alias("g")) \
        .where("g IS NOT NULL AND size(g.coordinates) > 0")
    assert parsed.count() == 998


def test_every_row_carries_lineage(real_sensors, real_bays):
    for df in (real_sensors.good, real_bays.good, real_bays.malformed):
        assert {(r.load_id, str(r.loaded_on)) for r in df.select("load_id", "loaded_on").distinct().collect()} == \
            {("load-1", "2026-11-26 10:15:30")}


SENSOR = {"bay_id": "1", "st_marker_id": "M1", "status": "Present", "lat": "-37.8", "lon": "144.9",
          "location": '{"type":"Point","coordinates":[144.9,-37.8]}', ":@computed_region_evbi_jbp8": "1"}


@pytest.mark.parametrize("change, reason", [
    ({"bay_id": None}, "missing bay_id"),
    ({"bay_id": " "}, "missing bay_id"),
    ({"bay_id": "12a"}, "unparseable bay_id"),
    ({"bay_id": "99999999999"}, "unparseable bay_id"),
    ({"status": "Occupied"}, "unknown status"),
    ({"status": None}, "unknown status"),
    ({"lat": "north"}, "unparseable lat"),
    ({"lat": "-91"}, "lat out of range"),
    ({"lon": "181.5"}, "lon out of range"),
    ({"lon": ""}, "missing lon"),
    ({"lat": "NaN"}, "lat out of range"),
    ({"location": "not json"}, "invalid location (expected GeoJSON Point)"),
])
def test_each_sensor_rule_sends_the_row_to_malformed_with_its_reason(spark, change, reason):
    bad = {**SENSOR, "bay_id": "2", **change}
    result = standardize_sensors(_sensors(spark, [SENSOR, bad]), LOAD)
    assert result.good.count() == 1
    malformed = result.malformed.collect()
    assert len(malformed) == 1 and malformed[0]["reason"] == reason
    assert "computed_region_evbi_jbp8" in result.malformed.columns  # renamed from ':@computed_region...'


def test_several_reasons_are_all_reported_in_rule_order(spark):
    bad = {**SENSOR, "bay_id": "x", "status": "?", "lat": "200"}
    result = standardize_sensors(_sensors(spark, [bad]), LOAD)
    assert result.malformed.first()["reason"] == "unparseable bay_id; unknown status; lat out of range"


BAY = {"bay_id": "10", "last_edit": "20190822104102", "rd_seg_id": "5", "rd_seg_dsc": "Main St",
       "the_geom": '{"type":"MultiPolygon","coordinates":[[[[144.9,-37.8],[144.91,-37.8],[144.9,-37.81]]]]}'}


@pytest.mark.parametrize("change, reason", [
    ({"last_edit": "2019-08-22"}, "bad last_edit timestamp"),
    ({"last_edit": "20191322104102"}, "bad last_edit timestamp"),
    ({"last_edit": None}, "missing last_edit"),
    ({"rd_seg_id": "seg"}, "unparseable rd_seg_id"),
    ({"the_geom": '{"type":"Point","coordinates":[1,2]}'}, "invalid the_geom (expected GeoJSON MultiPolygon)"),
])
def test_each_bay_rule_sends_the_row_to_malformed_with_its_reason(spark, change, reason):
    result = standardize_bays(_bays(spark, [{**BAY, **change}]), LOAD)
    assert result.good.count() == 0
    assert result.malformed.first()["reason"] == reason


def test_duplicate_bays_keep_the_newest_edit_whatever_the_input_order(spark):
    old = {**BAY, "rd_seg_dsc": "old"}
    new = {**BAY, "last_edit": "20200101000000", "rd_seg_dsc": "new"}
    invalid_newer = {**BAY, "last_edit": "garbage"}
    for rows in ([old, new, invalid_newer], [invalid_newer, new, old]):
        result = standardize_bays(_bays(spark, rows), LOAD)
        assert [r.rd_seg_dsc for r in result.good.collect()] == ["new"]
        assert sorted(r.reason for r in result.malformed.collect()) == [
            "bad last_edit timestamp", "duplicate bay_id: superseded by another row"]


def test_equal_duplicates_resolve_the_same_way_in_any_order(spark):
    a = {**BAY, "rd_seg_dsc": "a"}
    b = {**BAY, "rd_seg_dsc": "b"}
    winners = {standardize_bays(_bays(spark, rows), LOAD).good.first().rd_seg_dsc for rows in ([a, b], [b, a])}
    assert len(winners) == 1


def test_raw_reader_handles_bom_and_strings(spark, tmp_path, raw_sensor_rows):
    rows = copy.deepcopy(raw_sensor_rows[:3])
    path = write_extract(tmp_path / "s.json", rows)
    df = read_raw_json(spark, str(path), RAW_SENSOR_SCHEMA)
    assert [r.bay_id for r in df.collect()] == [r["bay_id"] for r in rows]
