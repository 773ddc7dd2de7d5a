"""The real notebooks, run by the local runner on the real Melbourne extracts, end to end."""
import json
import shutil

import pytest

import parking_sensors

from parking_sensors.tables import Lake
from sandbox.notebook.runner import LocalRuntime, NotebookFailed
from tests.conftest import write_extract
from toolkit.local.sample_load import SampleLoad, run_sample_load
from tasks.repository import NOTEBOOKS, SAMPLE_DATA

LOADED_ON = "2026-11-26T10:15:30Z"
TABLES = ("dim_parking_bay", "dim_location", "dim_st_marker", "fact_parking")


def _snapshot(spark, lake_root):
    lake = Lake(str(lake_root), "parquet")
    snapshot = {}
    for table in TABLES:
        df = lake.read(spark, "dw", table)
        snapshot[table] = sorted((tuple(r) for r in df.select(*sorted(df.columns)).collect()), key=repr)
    return snapshot


@pytest.fixture(scope="module")
def first_load(spark, tmp_path_factory):
    runtime = LocalRuntime(spark, dbfs_root=tmp_path_factory.mktemp("dbfs"))
    load = SampleLoad(tmp_path_factory.mktemp("lake"), "load-1", LOADED_ON)
    summaries = run_sample_load(runtime, load, NOTEBOOKS, SAMPLE_DATA)
    return runtime, load, summaries, _snapshot(spark, load.lake)


def test_every_notebook_reports_its_rows(first_load):
    _, _, summaries, _ = first_load
    assert summaries["01_standardize"]["rows"] == {
        "parking_sensor": {"input": 1000, "good": 1000, "malformed": 0},
        "parking_bay": {"input": 1000, "good": 998, "malformed": 2}}
    assert summaries["02_transform"]["rows"] == {"dim_parking_bay": 999, "dim_location": 1001,
                                                 "dim_st_marker": 1001, "fact_parking": 1000}
    verify = summaries["99_integration_test"]
    assert verify["fact_rows"] == 1000 and all(c["violations"] == 0 for c in verify["checks"])
    assert {c["check"] for c in verify["checks"]} >= {"row_balance", "unique", "not_null", "references",
                                                      "unknown_member", "non_empty"}


def test_malformed_rows_are_kept_with_their_reason(spark, first_load):
    _, load, _, _ = first_load
    malformed = Lake(str(load.lake), "parquet").read(spark, "malformed", "parking_bay")
    assert sorted((r.bay_id, r.reason) for r in malformed.collect()) == [
        ("21024", "duplicate bay_id: superseded by another row"),
        ("21380", "duplicate bay_id: superseded by another row")]


def test_facts_carry_the_load_time_and_fall_back_to_the_unknown_member(first_load):
    _, _, _, tables = first_load
    facts = tables["fact_parking"]  # columns sorted by name
    columns = sorted(["dim_date_id", "dim_time_id", "dim_parking_bay_id", "dim_location_id", "dim_st_marker_id",
                      "status", "load_id", "loaded_on"])
    rows = [dict(zip(columns, r)) for r in facts]
    assert {(r["dim_date_id"], r["dim_time_id"]) for r in rows} == {(20261126, 36930)}
    # Only 2 of the 1000 sensed bays appear in the bay extract: the rest point at the unknown member.
    assert sum(r["dim_parking_bay_id"] == -1 for r in rows) == 998
    assert all(r["dim_location_id"] > 0 and r["dim_st_marker_id"] > 0 for r in rows)
    assert {r["status"] for r in rows} == {"Present", "Unoccupied"}


def test_rerunning_the_same_load_gives_identical_tables(spark, first_load):
    runtime, load, _, before = first_load
    for notebook in ("00_setup", "01_standardize", "02_transform"):
        runtime.run(NOTEBOOKS / notebook, load.parameters(notebook))
    assert _snapshot(spark, load.lake) == before


def test_a_second_load_with_changed_bays_keeps_existing_surrogate_keys(spark, first_load, raw_bay_rows,
                                                                       raw_sensor_rows):
    runtime, first, _, before = first_load
    lake = Lake(str(first.lake), "parquet")
    keys_before = {r.bay_id: r.dim_parking_bay_id for r in lake.read(spark, "dw", "dim_parking_bay").collect()}

    bays = [dict(r) for r in raw_bay_rows if r["bay_id"] != "3793"]  # one bay disappears from the extract
    for r in bays:
        if r["bay_id"] == "3787":
            r["rd_seg_dsc"], r["last_edit"] = "Clarendon Street (renamed)", "20261101000000"
    bays.append({**raw_bay_rows[0], "bay_id": "900001"})
    second = SampleLoad(first.lake, "load-2", "2026-11-27T00:00:05Z")
    landing = first.lake / second.landing
    write_extract(landing / "MelbParkingBayData.json", bays)
    write_extract(landing / "MelbParkingSensorData.json", raw_sensor_rows[:100])
    for notebook in ("01_standardize", "02_transform", "99_integration_test"):
        runtime.run(NOTEBOOKS / notebook, second.parameters(notebook))

    dim = {r.bay_id: r for r in lake.read(spark, "dw", "dim_parking_bay").collect()}
    assert {b: dim[b].dim_parking_bay_id for b in keys_before} == keys_before  # every old key kept, 3793 too
    assert dim[3787].rd_seg_dsc == "Clarendon Street (renamed)" and dim[3787].load_id == "load-2"
    assert dim[3793].load_id == "load-1"
    assert dim[900001].dim_parking_bay_id == max(keys_before.values()) + 1
    facts = lake.read(spark, "dw", "fact_parking")
    per_load = {r.load_id: r["count"] for r in facts.groupBy("load_id").count().collect()}
    assert per_load == {"load-1": 1000, "load-2": 100}
    assert facts.where("load_id = 'load-2'").select("dim_time_id").distinct().first()[0] == 5


def test_the_integration_notebook_fails_naming_the_check_when_facts_are_missing(spark, first_load, tmp_path):
    runtime, load, _, _ = first_load
    copy = tmp_path / "lake"
    shutil.copytree(load.lake, copy)
    shutil.rmtree(copy / "dw" / "fact_parking" / "load_id=load-1")
    broken = SampleLoad(copy, "load-1", LOADED_ON)
    with pytest.raises(NotebookFailed) as failed:
        runtime.run(NOTEBOOKS / "99_integration_test", broken.parameters("99_integration_test"))
    assert "row_balance on fact_parking: FAILED (1000 violating): 0 fact rows for 1000 standardized sensor rows" \
        in str(failed.value)


def test_standardize_names_a_missing_landing_folder(first_load):
    runtime, load, _, _ = first_load
    params = {**load.parameters("01_standardize"), "infilefolder": "lnd/nothing-here"}
    missing = "raw extract .*lnd/nothing-here/MelbParkingSensorData.json does not exist"
    with pytest.raises(NotebookFailed, match=missing):
        runtime.run(NOTEBOOKS / "01_standardize", params)


def test_exit_values_are_json(first_load):
    runtime, load, _, _ = first_load
    result = runtime.run(NOTEBOOKS / "00_setup", load.parameters("00_setup"))
    assert json.loads(result.exit_value) == {"step": "setup", "version": parking_sensors.__version__,
                                             "lake_root": str(load.lake), "table_format": "parquet",
                                             "created": []}


def test_smoke_mode_checks_the_warehouse_read_only_and_reports_the_wheel_version(spark, first_load, tmp_path):
    runtime, load, _, _ = first_load
    smoke = {"mode": "smoke", "lake_root": str(load.lake), "table_format": "parquet"}
    result = json.loads(runtime.run(NOTEBOOKS / "99_integration_test", smoke).exit_value)
    assert result["step"] == "smoke" and result["version"] == parking_sensors.__version__
    assert result["tables"]["fact_parking"] >= 1000 and all(c["violations"] == 0 for c in result["checks"])
    before = sorted(p.relative_to(load.lake) for p in load.lake.rglob("*"))
    runtime.run(NOTEBOOKS / "99_integration_test", smoke)
    assert sorted(p.relative_to(load.lake) for p in load.lake.rglob("*")) == before  # it wrote nothing
    empty = json.loads(runtime.run(NOTEBOOKS / "99_integration_test",
                                   {**smoke, "lake_root": str(tmp_path / "empty")}).exit_value)
    assert empty["tables"] == dict.fromkeys(TABLES, None) and empty["checks"] == []


def test_smoke_mode_fails_naming_the_check_when_a_fact_key_does_not_resolve(spark, first_load, tmp_path):
    runtime, load, _, _ = first_load
    copy = tmp_path / "lake"
    shutil.copytree(load.lake, copy)
    shutil.rmtree(copy / "dw" / "dim_location")
    with pytest.raises(NotebookFailed, match="fact_parking exists without dim_location"):
        runtime.run(NOTEBOOKS / "99_integration_test",
                    {"mode": "smoke", "lake_root": str(copy), "table_format": "parquet"})
