# Databricks notebook source
# MAGIC %md
# MAGIC # Standardize
# MAGIC Reads one load's raw sensor and bay extracts from the landing folder and writes the typed
# MAGIC interim tables and the malformed rows (each with its reason). Re-running a load replaces
# MAGIC that load's rows and nothing else.

# COMMAND ----------

import json

from parking_sensors.load import Load
from parking_sensors.pipeline import standardize
from parking_sensors.tables import Lake

# COMMAND ----------

dbutils.widgets.text("lake_root", "/mnt/datalake", "Lake root")
dbutils.widgets.dropdown("table_format", "delta", ["delta", "parquet"], "Table format")
dbutils.widgets.text("infilefolder", "", "Landing folder, relative to the lake root")
dbutils.widgets.text("load_id", "", "Load id (the ADF run id)")
dbutils.widgets.text("loaded_on", "", "Load time, ISO 8601 (empty: now)")

# COMMAND ----------

lake = Lake(dbutils.widgets.get("lake_root"), dbutils.widgets.get("table_format"))
load = Load.parse(dbutils.widgets.get("load_id"), dbutils.widgets.get("loaded_on"))
summary = standardize(spark, lake, lake.resolve(dbutils.widgets.get("infilefolder")), load)
print(summary["rows"])

# COMMAND ----------

dbutils.notebook.exit(json.dumps(summary))
