# Databricks notebook source
# MAGIC %md
# MAGIC # Setup
# MAGIC Creates the warehouse dimensions (with their unknown member) under the lake root if they
# MAGIC do not exist yet. Safe to run any number of times.

# COMMAND ----------

import json

from parking_sensors.pipeline import setup
from parking_sensors.tables import Lake

# COMMAND ----------

dbutils.widgets.text("lake_root", "/mnt/datalake", "Lake root")
dbutils.widgets.dropdown("table_format", "delta", ["delta", "parquet"], "Table format")

# COMMAND ----------

lake = Lake(dbutils.widgets.get("lake_root"), dbutils.widgets.get("table_format"))
summary = setup(spark, lake)
print(summary)

# COMMAND ----------

dbutils.notebook.exit(json.dumps(summary))
