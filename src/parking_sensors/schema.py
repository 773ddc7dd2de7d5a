"""Shapes of the raw extracts and of the tables the pipeline writes."""
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType, TimestampType

# The open-data API returns every value as a string; geometry objects are kept as their raw
# JSON text (Spark stores an object read into a string field verbatim).
RAW_SENSOR_SCHEMA = StructType([
    StructField("bay_id", StringType()),
    StructField("st_marker_id", StringType()),
    StructField("status", StringType()),
    StructField("location", StringType()),
    StructField("location_address", StringType()),
    StructField("location_city", StringType()),
    StructField("location_state", StringType()),
    StructField("location_zip", StringType()),
    StructField("lat", StringType()),
    StructField("lon", StringType()),
    StructField(":@computed_region_evbi_jbp8", StringType()),
])

RAW_BAY_SCHEMA = StructType([
    StructField("the_geom", StringType()),
    StructField("bay_id", StringType()),
    StructField("last_edit", StringType()),
    StructField("rd_seg_id", StringType()),
    StructField("rd_seg_dsc", StringType()),
])

# Column names the lake formats reject or that read badly downstream.
RAW_COLUMN_RENAMES = {":@computed_region_evbi_jbp8": "computed_region_evbi_jbp8"}

STATUS_DOMAIN = ("Present", "Unoccupied")
LAST_EDIT_FORMAT = "yyyyMMddHHmmss"
LAT_RANGE = (-90.0, 90.0)
LON_RANGE = (-180.0, 180.0)

UNKNOWN_KEY = -1

# Interim (standardized) column types, which the dimensions inherit.
INTERIM_SENSOR_COLUMNS = {"bay_id": IntegerType(), "st_marker_id": StringType(), "status": StringType(),
                          "lat": DoubleType(), "lon": DoubleType(), "location": StringType()}
INTERIM_BAY_COLUMNS = {"bay_id": IntegerType(), "last_edit": TimestampType(), "rd_seg_id": IntegerType(),
                       "rd_seg_dsc": StringType(), "the_geom": StringType()}
