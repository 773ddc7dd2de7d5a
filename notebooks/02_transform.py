# Databricks notebook source
# MAGIC %md
# MAGIC # Transform
# MAGIC Merges one load's interim tables into the dimensional model: dim_parking_bay,
# MAGIC dim_location, dim_st_marker (surrogate keys kept across loads) and fact_parking.

# COMMAND ----------

import json

from parking_sensors.load import Load
from parking_sensors.pipeline import transform
from parking_sensors.tables import Lake

# COMMAND ----------

dbutils.widgets.text("lake_root", "/mnt/datalake", "Lake root")
dbutils.widgets.dropdown("table_format", "delta", ["delta", "parquet"], "Table format")
dbutils.widgets.text("load_id", "", "Load id (the ADF run id)")
dbutils.widgets.text("loaded_on", "", "Load time, ISO 8601 (empty: now)")

# COMMAND ----------

lake = Lake(dbutils.widgets.get("lake_root"), dbutils.widgets.get("table_format"))
load = Load.parse(dbutils.widgets.get("load_id"), dbutils.widgets.get("loaded_on"))
summary = transform(spark, lake, load)
print(summary["rows"])

# COMMAND ----------

dbutils.notebook.exit(json.dumps(summary))
