import pytest

from parking_sensors.tables import Lake


def test_lake_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="table_format: expected one of"):
        Lake("/tmp/x", "csv")


def test_missing_table_reads_as_none(spark, tmp_path):
    assert Lake(str(tmp_path), "parquet").read(spark, "dw", "nothing") is None


def test_replace_load_replaces_only_that_load(spark, tmp_path):
    lake = Lake(str(tmp_path), "parquet")
    schema = "v INT, load_id STRING"
    lake.replace_load(spark.createDataFrame([(1, "a"), (2, "a")], schema), "interim", "t", "a")
    lake.replace_load(spark.createDataFrame([(3, "007")], schema), "interim", "t", "007")
    lake.replace_load(spark.createDataFrame([(4, "a")], schema), "interim", "t", "a")
    rows = sorted((r.v, r.load_id) for r in lake.read(spark, "interim", "t").collect())
    assert rows == [(3, "007"), (4, "a")]  # "007" stays a string
    lake.replace_load(spark.createDataFrame([], schema), "interim", "t", "a")
    assert sorted((r.v, r.load_id) for r in lake.read(spark, "interim", "t").collect()) == [(3, "007")]


def test_replace_may_rewrite_the_table_it_reads(spark, tmp_path):
    lake = Lake(str(tmp_path), "parquet")
    lake.replace(spark.createDataFrame([(1,)], "v INT"), "dw", "d")
    current = lake.read(spark, "dw", "d")
    lake.replace(current.unionByName(spark.createDataFrame([(2,)], "v INT")), "dw", "d")
    assert sorted(r.v for r in lake.read(spark, "dw", "d").collect()) == [1, 2]
    assert not (tmp_path / "dw" / "d.__staging").exists() and not (tmp_path / "dw" / "d.__previous").exists()


def test_a_swap_interrupted_after_moving_the_old_table_aside_is_repaired_on_read(spark, tmp_path):
    lake = Lake(str(tmp_path), "parquet")
    lake.replace(spark.createDataFrame([(1,)], "v INT"), "dw", "d")
    (tmp_path / "dw" / "d").rename(tmp_path / "dw" / "d.__previous")  # crash between the two renames
    assert [r.v for r in lake.read(spark, "dw", "d").collect()] == [1]
