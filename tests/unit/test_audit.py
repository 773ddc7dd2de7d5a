"""The audit before a swap, on local Spark: the toolkit's own notebook prepares a shadow area from a live lake and
compares two runs' outputs; the gates judge what it found; the report shows the ledger record's numbers."""
import json
import shutil

import pytest
from pyspark.sql import functions as F

from parking_sensors.load import Load
from parking_sensors.pipeline import reference_coverage, standardize, transform
from parking_sensors.tables import Lake
from tests.conftest import SAMPLE
from toolkit.audit import gates, report, shadow_notebook
from toolkit.audit.intended import read as read_intended
from toolkit.configuration import ConfigError
from toolkit.environments.model import AuditGates, ChangePattern, load_environment
from tasks.repository import ENVIRONMENTS

PROD = load_environment(ENVIRONMENTS, "prod", "sandbox")
SETTINGS = PROD.audit
TABLES = {t: s.keys for t, s in SETTINGS.tables.items()}
LOAD = Load.parse("run-1", "2026-11-30T09:15:00")
INPUT = "lnd/2026_11_30_09_15_00_run-1"


def _run(spark, root, load=LOAD):
    """The application's pipeline, as the slot's notebooks run it, on one root."""
    lake = Lake(str(root), "parquet")
    standardize(spark, lake, lake.resolve(INPUT), load)
    transform(spark, lake, load)


@pytest.fixture(scope="module")
def live_lake(spark, tmp_path_factory):
    """A production lake after the audited load (the last landed): its dimensions hold the members it added, and
    the unknown members, which came before it."""
    root = tmp_path_factory.mktemp("live")
    (root / INPUT).mkdir(parents=True)
    for f in SAMPLE.glob("*.json"):
        shutil.copy(f, root / INPUT / f.name)
    _run(spark, root)
    return root


@pytest.fixture(scope="module")
def shadow(spark, live_lake, tmp_path_factory):
    area = tmp_path_factory.mktemp("area")
    roots = [str(area / "live"), str(area / "idle")]
    prepared = shadow_notebook.prepare(spark, str(live_lake), roots, INPUT, SETTINGS.start_tables,
                                       SETTINGS.load_column, LOAD.load_id, "parquet")
    _run(spark, roots[0])
    # The same code from the same start computes the same (the integration tests run both slots for real): the
    # idle side here is a copy of the live side's output, over its own prepared input.
    for layer in ("interim", "malformed", "dw"):
        if (area / "live" / layer).exists():
            shutil.rmtree(area / "idle" / layer, ignore_errors=True)
            shutil.copytree(area / "live" / layer, area / "idle" / layer)
    return area, prepared


def _compare(spark, area, candidate="idle"):
    return shadow_notebook.compare(spark, str(area / "live"), str(area / candidate), {
        "tables": TABLES, "table_format": "parquet", "examples": 2, "coverage": SETTINGS.coverage.model_dump()})


def test_prepare_copies_the_input_and_the_dimensions_without_the_audited_loads_rows(spark, shadow, live_lake):
    area, prepared = shadow
    assert prepared["input_files"] == sorted(f.name for f in SAMPLE.glob("*.json"))
    for table in SETTINGS.start_tables:
        counts = prepared["start_tables"][table]
        live = spark.read.parquet(str(live_lake / table))
        assert counts["rows"] == live.count()
        assert 0 < counts["kept"] == live.where(F.col("load_id") != LOAD.load_id).count() < counts["rows"]
    assert (area / "idle" / INPUT / "MelbParkingSensorData.json").read_bytes() == \
        (live_lake / INPUT / "MelbParkingSensorData.json").read_bytes()


def test_identical_outputs_give_no_difference_and_the_shadow_run_computes_the_live_answers(spark, shadow, live_lake):
    area, _ = shadow
    diff = _compare(spark, area)
    assert gates.evaluate(diff, SETTINGS.gates) == []
    fact = diff["tables"]["dw/fact_parking"]
    assert fact["rows"] == {"baseline": 1000, "candidate": 1000} and fact["matched"] == 1000 and not fact["changed"]
    assert diff["tables"]["malformed/parking_bay"].get("missing") in (None, "both")
    # The shadow run computed what the live run did: its facts are the live load's, to the surrogate key.
    live_fact = spark.read.parquet(str(live_lake / "dw/fact_parking")).where(F.col("load_id") == LOAD.load_id)
    shadow_fact = spark.read.parquet(str(area / "live" / "dw/fact_parking"))
    columns = sorted(live_fact.columns)
    assert live_fact.select(columns).exceptAll(shadow_fact.select(columns)).count() == 0
    assert diff["coverage"]["dim_parking_bay"]["candidate"] == reference_coverage(shadow_fact)["dim_parking_bay"]


@pytest.fixture(scope="module")
def changed(spark, shadow):
    """An idle slot whose transform is an hour off in dim_time_id, and that no longer writes interim rd_seg_dsc."""
    area, _ = shadow
    idle = area / "changed"
    shutil.copytree(area / "idle", idle)
    fact = spark.read.parquet(str(idle / "dw/fact_parking"))
    fact.withColumn("dim_time_id", F.col("dim_time_id") + 3600).write.mode("overwrite").parquet(
        str(area / "fact_tmp"))
    shutil.rmtree(idle / "dw/fact_parking")
    shutil.move(str(area / "fact_tmp"), idle / "dw/fact_parking")
    bays = spark.read.parquet(str(idle / "interim/parking_bay"))
    bays.drop("rd_seg_dsc").write.mode("overwrite").parquet(str(area / "bay_tmp"))
    shutil.rmtree(idle / "interim/parking_bay")
    shutil.move(str(area / "bay_tmp"), idle / "interim/parking_bay")
    return _compare(spark, area, "changed")


def test_a_changed_column_and_a_removed_one_are_named_with_counts_and_examples(changed):
    fact = changed["tables"]["dw/fact_parking"]
    assert fact["changed"]["dim_time_id"]["rows"] == 1000 and set(fact["changed"]) == {"dim_time_id"}
    example = fact["changed"]["dim_time_id"]["examples"][0]
    assert example["candidate"] - example["baseline"] == 3600
    assert set(example["key"]) == {"dim_location_id", "dim_st_marker_id"}
    assert changed["tables"]["interim/parking_bay"]["schema"]["removed"] == [{"column": "rd_seg_dsc",
                                                                              "type": "string"}]
    blocking = gates.breaches(gates.evaluate(changed, SETTINGS.gates))
    assert blocking == [
        "dw/fact_parking.dim_time_id: 1000 of 1000 matched rows differ (100%) (over [audit.gates] "
        "max_value_change_percent = 0%)",
        "interim/parking_bay.rd_seg_dsc: column removed (was string) (not allowed: [audit.gates] "
        "allow_removed_columns = false)"]


def test_declared_intentions_and_standing_exceptions_let_a_change_through(changed):
    intended = [ChangePattern(table="dw/fact_parking", column="dim_time_id", change="values", why="local time"),
                ChangePattern(table="interim/*", column="rd_seg_*", change="column-removed")]
    findings = gates.evaluate(changed, SETTINGS.gates, intended)
    assert gates.breaches(findings) == [] and {f.waived_by for f in findings} == {"intended: local time",
                                                                                  "intended: declared by the release"}
    loose = AuditGates(max_value_change_percent=100, allowed_changes=[ChangePattern(table="interim/parking_bay")])
    assert gates.breaches(gates.evaluate(changed, loose)) == []
    # An intention for another column covers nothing.
    other = [ChangePattern(table="dw/fact_parking", column="dim_date_id", change="values")]
    assert len(gates.breaches(gates.evaluate(changed, SETTINGS.gates, other))) == 2


def test_rows_keys_coverage_and_missing_tables_are_gated():
    tables = {
        "dw/fact_parking": {"keys": ["k"], "schema": {"added": [], "removed": [], "retyped": []},
                            "rows": {"baseline": 200, "candidate": 190}, "matched": 190, "changed": {},
                            "key_changes": {"baseline": 200, "candidate": 190, "added": 0, "removed": 10}},
        "dw/gone": {"keys": [], "missing": "candidate", "rows": {"baseline": 5, "candidate": 0}},
        "dw/new": {"keys": [], "missing": "baseline", "rows": {"baseline": 0, "candidate": 5}},
        "malformed/x": {"keys": [], "schema": {"added": [{"column": "c", "type": "int"}], "removed": [], "retyped": []},
                        "rows": {"baseline": 4, "candidate": 4}, "rows_only": {"baseline": 1, "candidate": 1}}}
    coverage = {"dim_parking_bay": {"baseline": {"facts": 200, "unknown": 2, "share": 0.01},
                                    "candidate": {"facts": 190, "unknown": 190, "share": 1.0}}}
    diff = {"coverage_table": "dw/fact_parking", "tables": tables, "coverage": coverage}
    findings = {(f.change, f.table, f.column): f for f in gates.evaluate(diff, AuditGates(max_row_change_percent=5))}
    assert findings[("rows", "dw/fact_parking", "")].measure == 5.0 and not findings[("rows", "dw/fact_parking",
                                                                                      "")].breach
    assert findings[("keys", "dw/fact_parking", "")].blocks
    assert findings[("table", "dw/gone", "")].blocks and not findings[("table", "dw/new", "")].breach
    assert not findings[("column-added", "malformed/x", "c")].breach  # added columns are allowed by default
    assert findings[("values", "malformed/x", "")].measure == 50.0
    assert findings[("coverage", "dw/fact_parking", "dim_parking_bay")].measure == 99.0


def test_the_report_shows_the_records_numbers(changed):
    record = {"event": "audit", "environment": "prod", "version": "2.0.0", "slot": "green", "outcome": "breached",
              "when": "2026-11-30T09:00:00+00:00", "who": "ci", "area": "_audit/x", "diff": changed,
              "load": {"load_id": "run-1", "folder": INPUT, "loaded_on": "2026-11-30T09:15:00"},
              "against": {"slot": "blue", "version": "1.0.0"}}
    findings = gates.evaluate(changed, SETTINGS.gates)
    record.update(findings=gates.as_dicts(findings), breaches=gates.breaches(findings))
    text = report.markdown(record)
    assert "| dw/fact_parking | 1000 → 1000 |" in text and "dim_time_id (1000)" in text
    assert "-rd_seg_dsc" in text and all(b.replace("|", "\\|") in text for b in record["breaches"])
    assert "2 breach(es)" in report.headline(record)
    assert json.loads(json.dumps(record)) == record  # the record is plain JSON, as the ledger keeps it


def test_a_malformed_intended_changes_file_is_refused_naming_it(tmp_path):
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "intended_changes.toml"
    path.write_text('[[change]]\ntable = "dw/fact_parking"\nchange = "value"\n')
    with pytest.raises(ConfigError, match=r"intended_changes.toml \[\[change\]\] #1"):
        read_intended(tmp_path)
    path.write_text('[[change]]\ntable = "dw/fact_parking"\ncolumn = "dim_time_id"\nchange = "values"\nwhy = "w"\n')
    assert read_intended(tmp_path)[0].why == "w"
    assert read_intended(tmp_path / "elsewhere") == []


def _record(outcome, **details):
    return {"event": "audit", "slot": "green", "version": "2.0.0", "bundle_digest": "d", "outcome": outcome,
            "when": "2026-11-30T09:00:00+00:00", **details}


def test_swap_refuses_a_slot_without_an_audit_of_its_version_a_failed_one_or_a_breach(changed):
    from toolkit.release.steps.audit import swap_refusals

    assert "has not been audited there" in swap_refusals(PROD, "green", "2.0.0", "d", [])[0]
    other_bundle = [_record("passed", diff={})]
    assert "has not been audited there" in swap_refusals(PROD, "green", "2.0.0", "other", other_bundle)[0]
    assert swap_refusals(PROD, "green", "2.0.0", "d", [_record("failed", error="boom")]) == [
        "the audit of slot green failed at 2026-11-30T09:00:00+00:00: boom"]
    assert swap_refusals(PROD, "green", "2.0.0", "d", [_record("no-baseline")]) == []
    breached = swap_refusals(PROD, "green", "2.0.0", "d", [_record("breached", diff=changed)])
    assert len(breached) == 2 and "dw/fact_parking.dim_time_id" in breached[0]
    declared = [{"table": "*", "column": "*", "change": "*", "why": "all of it"}]
    assert swap_refusals(PROD, "green", "2.0.0", "d", [_record("breached", diff=changed, intended=declared)]) == []


def test_qa_and_staging_gate_on_the_share_of_facts_at_the_unknown_member():
    from toolkit.release.steps.integration import coverage_breaches, describe_summary

    summary = {"load_id": "r", "coverage": {"dim_parking_bay": {"facts": 1000, "unknown": 998, "share": 0.998},
                                            "dim_location": {"facts": 1000, "unknown": 20, "share": 0.02}}}
    limits = load_environment(ENVIRONMENTS, "qa", "sandbox").integration_tests.max_unknown_share
    assert coverage_breaches(summary, limits, "qa.toml") == [
        "dim_location: 20 of 1000 facts (2.00%) point at its unknown member, above the maximum 1.00% (qa.toml "
        "integration_tests.max_unknown_share)",
        "dim_st_marker: the integration-test notebook reported no reference coverage for it (qa.toml "
        "integration_tests.max_unknown_share names it)"]
    assert coverage_breaches(summary, {"dim_parking_bay": 0.999}, "qa.toml") == []
    assert "dim_parking_bay unknown 99.8%" in describe_summary(summary)


class _Factory:
    """Two successful runs of the pipeline, newest first, as Data Factory's run queries answer."""
    RUNS = [{"runId": "run-2", "runEnd": "2026-11-30T02:10:00Z"}, {"runId": "run-1", "runEnd": "2026-11-29T02:10:00Z"}]

    def succeeded_runs(self, pipeline, days):
        return list(self.RUNS)

    def activity_runs(self, run_id):
        return [{"activityName": "SetInFileFolder", "output": {"value": f"lnd/{run_id}"}},
                {"activityName": "SetLoadedOn", "output": {"value": "2026-11-30T02:00:00"}}]


def test_the_audited_load_is_the_last_runs_or_the_one_named_with_audit_input():
    from types import SimpleNamespace

    from toolkit.release.steps.audit import AuditedLoad, find_load

    d = SimpleNamespace(environment=PROD)
    assert find_load(d, _Factory()) == AuditedLoad("lnd/run-2", "run-2", "2026-11-30T02:00:00", "run-2")
    assert find_load(d, _Factory(), "lnd/run-1/") == AuditedLoad("lnd/run-1", "run-1", "2026-11-30T02:00:00",
                                                                 "run-1")
    other = find_load(d, _Factory(), "lnd/by-hand")  # landed by no run: audited under an id of its own
    assert other.folder == "lnd/by-hand" and other.load_id.startswith("audit-") and other.run_id is None
    assert find_load(d, _Factory(), "lnd/by-hand").load_id == other.load_id  # the same folder, the same id
    _Factory.RUNS, runs = [], _Factory.RUNS
    try:
        assert find_load(d, _Factory()) is None
    finally:
        _Factory.RUNS = runs
