"""Type 1 dimensions with stable surrogate keys.

Merging a load into a dimension keeps every surrogate key it already gave out: a business
key seen before keeps its key (its attributes are overwritten when they changed), a new one
gets max(key) + its rank in business-key order. The key is therefore a function of the
dimension's history and the load's content, so re-running a load gives identical rows.
Every dimension carries an unknown member (key -1, null business key) that facts point to
when their dimension row is missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from datetime import datetime, timezone

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType, TimestampType

from parking_sensors.load import LINEAGE_COLUMNS, Load
from parking_sensors.schema import UNKNOWN_KEY

UNKNOWN_MEMBER_LOAD_ID = "unknown-member"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class DimensionSpec:
    name: str
    key: str
    business_keys: tuple[str, ...]
    attributes: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.key, *self.business_keys, *self.attributes, *LINEAGE_COLUMNS)


def _changed(spec: DimensionSpec) -> Column:
    if not spec.attributes:
        return F.lit(False)
    differs = [~F.col(f"e.{a}").eqNullSafe(F.col(f"i.{a}")) for a in spec.attributes]
    return reduce(lambda a, b: a | b, differs)


def empty_dimension(spark: SparkSession, spec: DimensionSpec, typed_like: StructType) -> DataFrame:
    """A dimension holding only its unknown member; business keys and attributes are typed
    like the same-named fields of ``typed_like``."""
    fields = {f.name: f for f in typed_like.fields}
    schema = StructType([
        StructField(spec.key, IntegerType(), False),
        *[StructField(c, fields[c].dataType, True) for c in (*spec.business_keys, *spec.attributes)],
        StructField("load_id", StringType(), False),
        StructField("loaded_on", TimestampType(), False),
    ])
    values = {c: None for c in schema.names}
    values.update({spec.key: UNKNOWN_KEY, "load_id": UNKNOWN_MEMBER_LOAD_ID, "loaded_on": _EPOCH})
    return spark.createDataFrame([tuple(values[c] for c in schema.names)], schema)


def merge_dimension(existing: DataFrame | None, incoming: DataFrame, spec: DimensionSpec, load: Load) -> DataFrame:
    """Merge the business keys of one load into a dimension (see the module docstring).

    ``incoming`` holds business keys and attributes; several rows per business key are
    reduced to one by a fixed order of the attribute values.
    """
    bks, attrs = list(spec.business_keys), list(spec.attributes)
    pick = Window.partitionBy(*bks).orderBy(*[F.col(c).asc_nulls_last() for c in attrs or bks])
    source = (incoming.select(*bks, *attrs)
              .where(reduce(lambda a, b: a & b, [F.col(k).isNotNull() for k in bks]))
              .withColumn("_pick", F.row_number().over(pick)).where("_pick = 1").drop("_pick"))
    if existing is None:
        existing = empty_dimension(incoming.sparkSession, spec, incoming.schema)
    existing = existing.select(*spec.columns)
    known = existing.where(F.col(spec.key) != UNKNOWN_KEY)
    unknown = existing.where(F.col(spec.key) == UNKNOWN_KEY)
    if unknown.isEmpty():
        unknown = empty_dimension(incoming.sparkSession, spec, existing.schema)

    joined = known.alias("e").join(source.alias("i"), on=bks, how="full_outer")
    in_existing, in_source = F.col(f"e.{spec.key}").isNotNull(), F.col(f"i.{bks[0]}").isNotNull()

    kept = joined.where(in_existing & ~(in_source & _changed(spec))).select(
        F.col(f"e.{spec.key}").alias(spec.key), *bks,
        *[F.col(f"e.{a}").alias(a) for a in attrs], "e.load_id", "e.loaded_on")
    updated = load.with_lineage(joined.where(in_existing & in_source & _changed(spec)).select(
        F.col(f"e.{spec.key}").alias(spec.key), *bks, *[F.col(f"i.{a}").alias(a) for a in attrs]))

    # New keys are numbered in one ordered window: a single partition, which is fine at
    # dimension sizes and is what makes the numbering independent of partitioning.
    max_key = known.agg(F.coalesce(F.max(spec.key), F.lit(0)).alias("m")).first()["m"]
    numbering = Window.orderBy(*[F.col(k).asc() for k in bks])
    added = load.with_lineage(joined.where(~in_existing).select(
        *bks, *[F.col(f"i.{a}").alias(a) for a in attrs])
        .withColumn(spec.key, (F.lit(max_key) + F.row_number().over(numbering)).cast("int")))

    parts = [unknown, kept, updated, added]
    return reduce(lambda a, b: a.unionByName(b), [p.select(*spec.columns) for p in parts])
