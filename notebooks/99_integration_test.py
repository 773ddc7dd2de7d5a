# Databricks notebook source
# MAGIC %md
# MAGIC # Integration test
# MAGIC `load` mode asserts on the outputs of one load: every raw row is good or malformed, the
# MAGIC load has facts, every fact key resolves, every dimension has unique keys and its unknown
# MAGIC member. `smoke` mode (a production slot before it goes live) checks the warehouse as it
# MAGIC is, with the slot's own wheel. Read-only: safe to run against production.

# COMMAND ----------

import json

from parking_sensors.pipeline import verify_load, verify_warehouse
from parking_sensors.tables import Lake

# COMMAND ----------

dbutils.widgets.dropdown("mode", "load", ["load", "smoke"], "load: one load's outputs; smoke: the warehouse")
dbutils.widgets.text("lake_root", "/mnt/datalake", "Lake root")
dbutils.widgets.dropdown("table_format", "delta", ["delta", "parquet"], "Table format")
dbutils.widgets.text("infilefolder", "", "Landing folder of the load, relative to the lake root")
dbutils.widgets.text("load_id", "", "Load id to verify")

# COMMAND ----------

lake = Lake(dbutils.widgets.get("lake_root"), dbutils.widgets.get("table_format"))
if dbutils.widgets.get("mode") == "smoke":
    summary = verify_warehouse(spark, lake)
    print(summary["version"], summary["tables"])
else:
    summary = verify_load(spark, lake, lake.resolve(dbutils.widgets.get("infilefolder")),
                          dbutils.widgets.get("load_id"))
    print(summary["rows"], summary["fact_rows"])

# COMMAND ----------

dbutils.notebook.exit(json.dumps(summary))
