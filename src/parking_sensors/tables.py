"""Reading and writing the lake's tables, in Delta (Databricks) or Parquet (local Spark).

Per-load tables (interim, malformed, facts) are partitioned by load_id and a write replaces
only that load's partition, so re-running a load is idempotent. Whole-table writes
(dimensions) are atomic in Delta; in Parquet they go to a staging folder first and are then
swapped in by renames, and a read repairs a swap that a crash interrupted.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.errors import AnalysisException
from pyspark.sql.types import StructType

FORMATS = ("delta", "parquet")
_MISSING_TABLE_ERRORS = ("PATH_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA", "DELTA_MISSING_DELTA_TABLE",
                         "DELTA_TABLE_NOT_FOUND")


def read_raw_json(spark: SparkSession, path: str, schema: StructType) -> DataFrame:
    """A JSON array file as the open-data API returns it (UTF-8, optional BOM), one row per element."""
    return spark.read.schema(schema).option("multiLine", True).option("mode", "PERMISSIVE").json(path)


@dataclass(frozen=True)
class Lake:
    """Where the tables live (a path Spark can read: /mnt/..., abfss://..., or a local folder) and in which format."""

    root: str
    table_format: str = "delta"

    def __post_init__(self) -> None:
        if self.table_format not in FORMATS:
            raise ValueError(f"table_format: expected one of {FORMATS}, got {self.table_format!r}")
        if not self.root:
            raise ValueError("lake root must not be empty")

    def resolve(self, relative: str) -> str:
        """A path under the lake root."""
        return f"{self.root.rstrip('/')}/{relative.strip('/')}"

    def path(self, layer: str, name: str) -> str:
        return self.resolve(f"{layer}/{name}")

    def read(self, spark: SparkSession, layer: str, name: str) -> DataFrame | None:
        """The table, or None when it was never written."""
        path = self.path(layer, name)
        if self.table_format == "parquet":
            # Load ids are strings even when they look like numbers.
            spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
            _repair_interrupted_swap(spark, path)
        try:
            return spark.read.format(self.table_format).load(path)
        except AnalysisException as exc:
            if (exc.getCondition() or "") in _MISSING_TABLE_ERRORS:
                return None
            raise

    def replace_load(self, df: DataFrame, layer: str, name: str, load_id: str) -> None:
        """Replace the rows of one load (its partition) and leave every other load as it is."""
        path = self.path(layer, name)
        writer = df.write.format(self.table_format).mode("overwrite").partitionBy("load_id")
        if self.table_format == "delta":
            writer.option("replaceWhere", f"load_id = '{load_id}'").save(path)
        elif df.isEmpty():
            # A dynamic overwrite with no rows touches no partition: drop the load's old rows by hand.
            fs, Path = _filesystem(df.sparkSession, path)
            fs.delete(Path(f"{path}/load_id={load_id}"), True)
        else:
            writer.option("partitionOverwriteMode", "dynamic").save(path)

    def replace(self, df: DataFrame, layer: str, name: str) -> None:
        """Replace the whole table with ``df``, which may have been read from it."""
        path = self.path(layer, name)
        if self.table_format == "delta":
            df.write.format("delta").mode("overwrite").save(path)
            return
        staging = path + _STAGING
        df.write.format("parquet").mode("overwrite").save(staging)
        _swap_in(df.sparkSession, staging, path)


_STAGING = ".__staging"
_PREVIOUS = ".__previous"


def _filesystem(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jvm.org.apache.hadoop.fs.Path


def _swap_in(spark: SparkSession, staging: str, target: str) -> None:
    fs, Path = _filesystem(spark, target)
    previous = Path(target + _PREVIOUS)
    fs.delete(previous, True)
    if fs.exists(Path(target)) and not fs.rename(Path(target), previous):
        raise OSError(f"could not move {target} aside to swap in its new version")
    if not fs.rename(Path(staging), Path(target)):
        raise OSError(f"could not move {staging} to {target}")
    fs.delete(previous, True)


def _repair_interrupted_swap(spark: SparkSession, target: str) -> None:
    fs, Path = _filesystem(spark, target)
    previous = Path(target + _PREVIOUS)
    if not fs.exists(Path(target)) and fs.exists(previous):
        fs.rename(previous, Path(target))
