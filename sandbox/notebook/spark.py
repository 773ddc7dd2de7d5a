"""A local SparkSession configured like a small Databricks cluster (UTC, quiet, few shuffle partitions)."""
from __future__ import annotations

import os
from typing import Any


def local_spark_session(app_name: str = "parking-sensors-local", cores: int = 2, shuffle_partitions: int = 4) -> Any:
    from pyspark.sql import SparkSession  # heavy: import only when a session is wanted

    # Loopback only: Spark would otherwise bind to the machine's first non-loopback address.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (SparkSession.builder.master(f"local[{cores}]").appName(app_name)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.memory", "2g")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark
