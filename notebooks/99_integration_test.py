# Databricks notebook source
# MAGIC %md
# MAGIC # Integration test
# MAGIC Asserts on the outputs of one load: every raw row is good or malformed, the load has
# MAGIC facts, every fact key resolves, every dimension has unique keys and its unknown member.
# MAGIC Read-only: safe to run against production.

# COMMAND ----------

import json

from parking_sensors.pipeline import verify_load
from parking_sensors.tables import Lake

# COMMAND ----------

dbutils.widgets.text("lake_root", "/mnt/datalake", "Lake root")
dbutils.widgets.dropdown("table_format", "delta", ["delta", "parquet"], "Table format")
dbutils.widgets.text("infilefolder", "", "Landing folder of the load, relative to the lake root")
dbutils.widgets.text("load_id", "", "Load id to verify")

# COMMAND ----------

lake = Lake(dbutils.widgets.get("lake_root"), dbutils.widgets.get("table_format"))
summary = verify_load(spark, lake, lake.resolve(dbutils.widgets.get("infilefolder")),
                      dbutils.widgets.get("load_id"))
print(summary["rows"], summary["fact_rows"])

# COMMAND ----------

dbutils.notebook.exit(json.dumps(summary))
