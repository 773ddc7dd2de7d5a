"""The notebooks' entry points: one function per notebook, each reading and writing the lake
through :class:`~parking_sensors.tables.Lake` and returning a JSON-ready summary.

Every function checks before it writes: a violated data-quality check raises
DataQualityError and leaves the tables as they were.
"""
from __future__ import annotations

from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from parking_sensors import __version__, quality
from parking_sensors.dimension import DimensionSpec, empty_dimension
from parking_sensors.load import Load
from parking_sensors.model import DIMENSIONS, FACT_PARKING, build_model
from parking_sensors.schema import (
    INTERIM_BAY_COLUMNS,
    INTERIM_SENSOR_COLUMNS,
    LAT_RANGE,
    LON_RANGE,
    RAW_BAY_SCHEMA,
    RAW_SENSOR_SCHEMA,
    STATUS_DOMAIN,
    UNKNOWN_KEY,
)
from parking_sensors.standardize import standardize_bays, standardize_sensors
from parking_sensors.tables import Lake, read_raw_json

SENSORS_FILE = "MelbParkingSensorData.json"
BAYS_FILE = "MelbParkingBayData.json"
INTERIM, MALFORMED, WAREHOUSE = "interim", "malformed", "dw"
SENSOR_TABLE, BAY_TABLE = "parking_sensor", "parking_bay"


def setup(spark: SparkSession, lake: Lake) -> dict[str, Any]:
    """Create each missing dimension holding only its unknown member; existing ones are left alone."""
    interim_types = {**INTERIM_SENSOR_COLUMNS, **INTERIM_BAY_COLUMNS}
    typed_like = StructType([StructField(c, t) for c, t in interim_types.items()])
    created = []
    for d in DIMENSIONS:
        if lake.read(spark, WAREHOUSE, d.name) is None:
            lake.replace(empty_dimension(spark, d, typed_like), WAREHOUSE, d.name)
            created.append(d.name)
    return {"step": "setup", "version": __version__, "lake_root": lake.root, "table_format": lake.table_format,
            "created": created}


class MissingInputError(Exception):
    """A table or file that this step reads has not been produced."""


def _read_raw(spark: SparkSession, landing_folder: str, file: str, schema: StructType) -> DataFrame:
    path = f"{landing_folder.rstrip('/')}/{file}"
    try:
        return read_raw_json(spark, path, schema)
    except AnalysisException as exc:
        if exc.getCondition() == "PATH_NOT_FOUND":
            raise MissingInputError(f"raw extract {path} does not exist: check the landing folder") from None
        raise


def _summary(results: list[quality.CheckResult]) -> list[dict[str, Any]]:
    return [{"check": r.check, "table": r.table, "violations": r.violations, "detail": r.detail} for r in results]


def _standardized_checks(table: str, raw: DataFrame, good: DataFrame,
                         malformed: DataFrame) -> tuple[list[quality.CheckResult], tuple[int, int, int]]:
    counts = (raw.count(), good.count(), malformed.count())
    return [quality.row_balance(table, *counts),
            quality.not_null(good, table, ["bay_id", "load_id", "loaded_on"]),
            quality.unique(good, table, ["bay_id"])], counts


def standardize(spark: SparkSession, lake: Lake, landing_folder: str, load: Load) -> dict[str, Any]:
    """Raw sensor and bay extracts in ``landing_folder`` to interim (good) and malformed tables."""
    outputs, checks, counts = {}, [], {}
    for table, file, schema, standardize_fn in (
        (SENSOR_TABLE, SENSORS_FILE, RAW_SENSOR_SCHEMA, standardize_sensors),
        (BAY_TABLE, BAYS_FILE, RAW_BAY_SCHEMA, standardize_bays),
    ):
        raw = _read_raw(spark, landing_folder, file, schema).cache()
        result = standardize_fn(raw, load)
        good, malformed = result.good.cache(), result.malformed.cache()
        table_checks, (n_in, n_good, n_bad) = _standardized_checks(f"{INTERIM}.{table}", raw, good, malformed)
        checks += table_checks
        counts[table] = {"input": n_in, "good": n_good, "malformed": n_bad}
        outputs[table] = (good, malformed)

    sensors = outputs[SENSOR_TABLE][0]
    checks += [quality.in_domain(sensors, f"{INTERIM}.{SENSOR_TABLE}", "status", STATUS_DOMAIN),
               quality.in_range(sensors, f"{INTERIM}.{SENSOR_TABLE}", "lat", *LAT_RANGE),
               quality.in_range(sensors, f"{INTERIM}.{SENSOR_TABLE}", "lon", *LON_RANGE)]
    quality.enforce(checks)

    for table, (good, malformed) in outputs.items():
        lake.replace_load(good, INTERIM, table, load.load_id)
        lake.replace_load(malformed, MALFORMED, table, load.load_id)
    return {"step": "standardize", "version": __version__, "load_id": load.load_id, "rows": counts,
            "checks": _summary(checks)}


def _read_load(spark: SparkSession, lake: Lake, layer: str, table: str, load_id: str,
               like: DataFrame | None = None) -> DataFrame:
    """Rows of one load; a table never written is an error, unless ``like`` gives the shape of its empty self."""
    df = lake.read(spark, layer, table)
    if df is None:
        if like is None:
            raise MissingInputError(f"{layer}.{table} does not exist under {lake.root}: run the step that writes it")
        return like.limit(0)
    return df.where(F.col("load_id") == load_id)


def _dimension_checks(dim: DataFrame, spec: DimensionSpec) -> list[quality.CheckResult]:
    known = dim.where(F.col(spec.key) != UNKNOWN_KEY)
    unknown_rows = dim.where(F.col(spec.key) == UNKNOWN_KEY).count()
    return [
        quality.not_null(dim, spec.name, [spec.key]),
        quality.unique(dim, spec.name, [spec.key]),
        quality.not_null(known, spec.name, list(spec.business_keys)),
        quality.unique(known, spec.name, list(spec.business_keys)),
        quality.CheckResult("unknown_member", spec.name, abs(unknown_rows - 1),
                            f"{unknown_rows} rows with key {UNKNOWN_KEY}, expected 1"),
    ]


def _fact_checks(fact: DataFrame, dims: dict[str, DataFrame], expected_rows: int) -> list[quality.CheckResult]:
    rows = fact.count()
    checks = [
        quality.CheckResult("row_balance", FACT_PARKING, abs(rows - expected_rows),
                            f"{rows} fact rows for {expected_rows} standardized sensor rows"),
        quality.not_null(fact, FACT_PARKING, ["dim_date_id", "dim_time_id", *[d.key for d in DIMENSIONS]]),
    ]
    checks += [quality.references(fact, FACT_PARKING, dims[d.name], d.key) for d in DIMENSIONS]
    return checks


def transform(spark: SparkSession, lake: Lake, load: Load) -> dict[str, Any]:
    """Interim tables of one load to the dimensional model (dimensions merged, facts of the load replaced)."""
    sensors = _read_load(spark, lake, INTERIM, SENSOR_TABLE, load.load_id).cache()
    bays = _read_load(spark, lake, INTERIM, BAY_TABLE, load.load_id).cache()
    if sensors.isEmpty() and bays.isEmpty():
        raise MissingInputError(f"no interim rows for load {load.load_id}: run standardize for it first")
    existing = {d.name: lake.read(spark, WAREHOUSE, d.name) for d in DIMENSIONS}
    model = build_model(sensors, bays, existing, load)

    # Materialize before writing: a dimension is rewritten in place and the fact reads it.
    tables = {name: df.localCheckpoint(eager=True) for name, df in model.tables().items()}
    dims = {d.name: tables[d.name] for d in DIMENSIONS}
    checks = [c for d in DIMENSIONS for c in _dimension_checks(dims[d.name], d)]
    checks += _fact_checks(tables[FACT_PARKING], dims, sensors.count())
    quality.enforce(checks)

    for d in DIMENSIONS:
        lake.replace(dims[d.name], WAREHOUSE, d.name)
    lake.replace_load(tables[FACT_PARKING], WAREHOUSE, FACT_PARKING, load.load_id)
    counts = {name: df.count() for name, df in tables.items()}
    return {"step": "transform", "version": __version__, "load_id": load.load_id, "rows": counts,
            "checks": _summary(checks)}


def verify_load(spark: SparkSession, lake: Lake, landing_folder: str, load_id: str) -> dict[str, Any]:
    """Integration test of one load's outputs; raises DataQualityError on the first failed assertion set."""
    checks, counts = [], {}
    inputs = ((SENSOR_TABLE, SENSORS_FILE, RAW_SENSOR_SCHEMA), (BAY_TABLE, BAYS_FILE, RAW_BAY_SCHEMA))
    for table, file, schema in inputs:
        raw = _read_raw(spark, landing_folder, file, schema)
        good = _read_load(spark, lake, INTERIM, table, load_id)
        # A load without malformed rows may never have created its malformed table.
        malformed = _read_load(spark, lake, MALFORMED, table, load_id, like=raw)
        result, (n_in, n_good, n_bad) = _standardized_checks(f"{INTERIM}.{table}", raw, good, malformed)
        checks += result
        counts[table] = {"input": n_in, "good": n_good, "malformed": n_bad}
        checks.append(quality.CheckResult("non_empty", f"{INTERIM}.{table}", int(n_good == 0), f"{n_good} good rows"))

    dims = {}
    for d in DIMENSIONS:
        dim = lake.read(spark, WAREHOUSE, d.name)
        if dim is None:
            raise MissingInputError(f"{WAREHOUSE}.{d.name} does not exist under {lake.root}: run transform first")
        dims[d.name] = dim
        checks += _dimension_checks(dim, d)
    fact = _read_load(spark, lake, WAREHOUSE, FACT_PARKING, load_id)
    checks += _fact_checks(fact, dims, counts[SENSOR_TABLE]["good"])
    quality.enforce(checks)
    return {"step": "verify", "version": __version__, "load_id": load_id, "rows": counts, "fact_rows": fact.count(),
            "checks": _summary(checks), "coverage": reference_coverage(fact)}


def reference_coverage(fact: DataFrame) -> dict[str, dict[str, float | int]]:
    """Per dimension, the facts that point at its unknown member (the release gates on the share)."""
    return {d.name: quality.unknown_share(fact, d.key, UNKNOWN_KEY) for d in DIMENSIONS}


def verify_warehouse(spark: SparkSession, lake: Lake) -> dict[str, Any]:
    """Smoke test of a deployed release, safe for production (it reads only): the warehouse's
    dimensions have unique keys and their unknown member, and every fact key resolves. A warehouse not
    yet written (a first release) passes with its tables reported missing."""
    dims = {d.name: lake.read(spark, WAREHOUSE, d.name) for d in DIMENSIONS}
    fact = lake.read(spark, WAREHOUSE, FACT_PARKING)
    checks: list[quality.CheckResult] = []
    for spec in DIMENSIONS:
        if dims[spec.name] is not None:
            checks += _dimension_checks(dims[spec.name], spec)
    if fact is not None:
        missing = [name for name, dim in dims.items() if dim is None]
        if missing:
            raise MissingInputError(f"{WAREHOUSE}.{FACT_PARKING} exists without {', '.join(missing)} under {lake.root}")
        checks += [quality.references(fact, FACT_PARKING, dims[d.name], d.key) for d in DIMENSIONS]
    quality.enforce(checks)
    tables = {name: (df.count() if df is not None else None) for name, df in {**dims, FACT_PARKING: fact}.items()}
    return {"step": "smoke", "version": __version__, "tables": tables, "checks": _summary(checks)}
