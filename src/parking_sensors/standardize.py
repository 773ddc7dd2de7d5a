"""Raw extracts to typed interim tables; every input row lands in good or malformed.

A row is malformed when any rule below finds a reason; the reasons of a row are joined with
"; " in rule order. Among valid rows, a duplicate business key keeps one row by a fixed
order (newest last_edit, then the row's content hash) and sends the others to malformed,
so the outcome never depends on input order or partitioning.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from parking_sensors.load import Load
from parking_sensors.schema import (
    LAST_EDIT_FORMAT,
    LAT_RANGE,
    LON_RANGE,
    RAW_COLUMN_RENAMES,
    STATUS_DOMAIN,
)

_INTEGER = r"^\s*[0-9]{1,9}\s*$"  # fits an int; bay ids are positive


@dataclass(frozen=True)
class Standardized:
    """The two outputs of one standardization: typed good rows and raw malformed rows."""

    good: DataFrame
    malformed: DataFrame


@dataclass(frozen=True)
class _Rule:
    reason: str
    violated: Column


def _blank(c: Column) -> Column:
    return c.isNull() | (F.trim(c) == "")


def _integer_rules(name: str, required: bool) -> list[_Rule]:
    c = F.col(name)
    rules = [_Rule(f"unparseable {name}", ~_blank(c) & ~c.rlike(_INTEGER))]
    if required:
        rules.insert(0, _Rule(f"missing {name}", _blank(c)))
    return rules


def _coordinate_rules(name: str, bounds: tuple[float, float]) -> list[_Rule]:
    raw = F.col(name)
    value = F.trim(raw).try_cast("double")
    return [
        _Rule(f"missing {name}", _blank(raw)),
        _Rule(f"unparseable {name}", ~_blank(raw) & value.isNull()),
        _Rule(f"{name} out of range", value.isNotNull() & (F.isnan(value) | ~value.between(*bounds))),
    ]


def _geometry_rule(name: str, geometry_type: str) -> _Rule:
    parsed = F.from_json(F.col(name), "type STRING, coordinates ARRAY<STRING>")
    valid = (parsed.isNotNull() & (parsed["type"] == geometry_type)
             & (F.size(F.coalesce(parsed["coordinates"], F.array())) > 0))
    return _Rule(f"invalid {name} (expected GeoJSON {geometry_type})", ~F.coalesce(valid, F.lit(False)))


def _sensor_rules() -> list[_Rule]:
    status = F.col("status")
    return [
        *_integer_rules("bay_id", required=True),
        _Rule("unknown status", status.isNull() | ~F.trim(status).isin(*STATUS_DOMAIN)),
        *_coordinate_rules("lat", LAT_RANGE),
        *_coordinate_rules("lon", LON_RANGE),
        _geometry_rule("location", "Point"),
    ]


def _bay_rules() -> list[_Rule]:
    last_edit = F.col("last_edit")
    return [
        *_integer_rules("bay_id", required=True),
        _Rule("missing last_edit", _blank(last_edit)),
        _Rule("bad last_edit timestamp",
              ~_blank(last_edit) & F.try_to_timestamp(F.trim(last_edit), F.lit(LAST_EDIT_FORMAT)).isNull()),
        *_integer_rules("rd_seg_id", required=False),
        _geometry_rule("the_geom", "MultiPolygon"),
    ]


def _rename_raw(raw: DataFrame) -> DataFrame:
    for old, new in RAW_COLUMN_RENAMES.items():
        if old in raw.columns:
            raw = raw.withColumnRenamed(old, new)
    return raw


def _split(raw: DataFrame, rules: Sequence[_Rule], key: str, newest_first: Sequence[Column],
           typed: Sequence[Column], load: Load) -> Standardized:
    raw = _rename_raw(raw)
    raw_columns = raw.columns
    reasons = F.concat_ws("; ", *[F.when(r.violated, F.lit(r.reason)) for r in rules])
    content_hash = F.sha2(F.to_json(F.struct(*[F.col(c) for c in raw_columns])), 256)
    checked = raw.withColumn("_reason", reasons).withColumn("_hash", content_hash)

    # Rank rows per business key, valid ones first; only a valid rank 1 survives.
    key_value = F.trim(F.col(key)).try_cast("int")
    order = [(F.col("_reason") != "").asc(), *newest_first, F.col("_hash")]
    rank = F.row_number().over(Window.partitionBy(key_value).orderBy(*order))
    checked = checked.withColumn(
        "_reason",
        F.when((F.col("_reason") == "") & (rank > 1), F.lit(f"duplicate {key}: superseded by another row"))
        .otherwise(F.col("_reason")),
    )
    good = load.with_lineage(checked.filter(F.col("_reason") == "").select(*typed))
    malformed = load.with_lineage(
        checked.filter(F.col("_reason") != "").select(*raw_columns, F.col("_reason").alias("reason")))
    return Standardized(good=good, malformed=malformed)


def standardize_sensors(raw: DataFrame, load: Load) -> Standardized:
    """Sensor readings: bay_id int, st_marker_id, status, lat/lon doubles, location GeoJSON."""
    typed = [
        F.trim(F.col("bay_id")).try_cast("int").alias("bay_id"),
        F.nullif(F.trim(F.col("st_marker_id")), F.lit("")).alias("st_marker_id"),
        F.trim(F.col("status")).alias("status"),
        F.trim(F.col("lat")).try_cast("double").alias("lat"),
        F.trim(F.col("lon")).try_cast("double").alias("lon"),
        F.col("location"),
    ]
    return _split(raw, _sensor_rules(), "bay_id", newest_first=[], typed=typed, load=load)


def standardize_bays(raw: DataFrame, load: Load) -> Standardized:
    """Parking bays: bay_id int, last_edit timestamp, rd_seg_id int, rd_seg_dsc, the_geom GeoJSON."""
    last_edit = F.try_to_timestamp(F.trim(F.col("last_edit")), F.lit(LAST_EDIT_FORMAT))
    typed = [
        F.trim(F.col("bay_id")).try_cast("int").alias("bay_id"),
        last_edit.alias("last_edit"),
        F.trim(F.col("rd_seg_id")).try_cast("int").alias("rd_seg_id"),
        F.nullif(F.trim(F.col("rd_seg_dsc")), F.lit("")).alias("rd_seg_dsc"),
        F.col("the_geom"),
    ]
    return _split(raw, _bay_rules(), "bay_id", newest_first=[last_edit.desc_nulls_last()], typed=typed, load=load)
