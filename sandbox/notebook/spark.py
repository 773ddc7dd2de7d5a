"""A local SparkSession configured like a small Databricks cluster (UTC, quiet, few shuffle partitions)."""
from __future__ import annotations

from typing import Any


def local_spark_session(app_name: str = "parking-sensors-local", cores: int = 2, shuffle_partitions: int = 4) -> Any:
    from pyspark.sql import SparkSession  # heavy: import only when a session is wanted

    spark = (SparkSession.builder.master(f"local[{cores}]").appName(app_name)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.memory", "2g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark
