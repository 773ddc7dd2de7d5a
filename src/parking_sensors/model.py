"""The dimensional model: three type 1 dimensions and the parking fact."""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from parking_sensors.dimension import DimensionSpec, merge_dimension
from parking_sensors.load import Load
from parking_sensors.schema import UNKNOWN_KEY

DIM_PARKING_BAY = DimensionSpec(
    name="dim_parking_bay", key="dim_parking_bay_id", business_keys=("bay_id",),
    attributes=("rd_seg_id", "rd_seg_dsc", "the_geom", "last_edit"))
DIM_LOCATION = DimensionSpec(name="dim_location", key="dim_location_id", business_keys=("lat", "lon"))
DIM_ST_MARKER = DimensionSpec(name="dim_st_marker", key="dim_st_marker_id", business_keys=("st_marker_id",))
DIMENSIONS = (DIM_PARKING_BAY, DIM_LOCATION, DIM_ST_MARKER)

FACT_PARKING = "fact_parking"
FACT_COLUMNS = ("dim_date_id", "dim_time_id", "dim_parking_bay_id", "dim_location_id", "dim_st_marker_id",
                "status", "load_id", "loaded_on")


@dataclass(frozen=True)
class Model:
    dim_parking_bay: DataFrame
    dim_location: DataFrame
    dim_st_marker: DataFrame
    fact_parking: DataFrame

    def tables(self) -> dict[str, DataFrame]:
        return {
            DIM_PARKING_BAY.name: self.dim_parking_bay,
            DIM_LOCATION.name: self.dim_location,
            DIM_ST_MARKER.name: self.dim_st_marker,
            FACT_PARKING: self.fact_parking,
        }


def _lookup(fact: DataFrame, dim: DataFrame, spec: DimensionSpec) -> DataFrame:
    """Attach the dimension key to each fact row; a missing dimension row gives the unknown member."""
    keys = dim.where(F.col(spec.key) != UNKNOWN_KEY).select(spec.key, *spec.business_keys)
    joined = fact.join(keys, on=list(spec.business_keys), how="left")
    return joined.withColumn(spec.key, F.coalesce(F.col(spec.key), F.lit(UNKNOWN_KEY)))


def build_fact_parking(sensors: DataFrame, dim_parking_bay: DataFrame, dim_location: DataFrame,
                       dim_st_marker: DataFrame, load: Load) -> DataFrame:
    """One fact row per standardized sensor reading of the load."""
    fact = sensors.select("bay_id", "lat", "lon", "st_marker_id", "status")
    for dim, spec in ((dim_parking_bay, DIM_PARKING_BAY), (dim_location, DIM_LOCATION),
                      (dim_st_marker, DIM_ST_MARKER)):
        fact = _lookup(fact, dim, spec)
    fact = (fact.withColumn("dim_date_id", F.lit(load.date_id))
                .withColumn("dim_time_id", F.lit(load.time_id)))
    return load.with_lineage(fact).select(*FACT_COLUMNS)


def build_model(sensors: DataFrame, bays: DataFrame, existing: dict[str, DataFrame | None], load: Load) -> Model:
    """Merge one load's interim sensors and bays into the model.

    ``existing`` maps each dimension name to its current table, or None before the first load.
    """
    dim_parking_bay = merge_dimension(existing.get(DIM_PARKING_BAY.name), bays, DIM_PARKING_BAY, load)
    dim_location = merge_dimension(existing.get(DIM_LOCATION.name), sensors, DIM_LOCATION, load)
    dim_st_marker = merge_dimension(existing.get(DIM_ST_MARKER.name), sensors, DIM_ST_MARKER, load)
    fact = build_fact_parking(sensors, dim_parking_bay, dim_location, dim_st_marker, load)
    return Model(dim_parking_bay, dim_location, dim_st_marker, fact)
