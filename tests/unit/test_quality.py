import pytest

from parking_sensors import quality


@pytest.fixture(scope="module")
def df(spark):
    return spark.createDataFrame([(1, "Present", -37.8), (1, "Gone", 95.0), (None, "Present", float("nan"))],
                                 "bay_id INT, status STRING, lat DOUBLE")


def test_each_check_counts_its_violations(df):
    assert quality.not_null(df, "t", ["bay_id"]).violations == 1
    assert quality.unique(df.where("bay_id IS NOT NULL"), "t", ["bay_id"]).violations == 2
    assert quality.in_domain(df, "t", "status", ["Present", "Unoccupied"]).violations == 1
    assert quality.in_range(df, "t", "lat", -90, 90).violations == 2  # 95 and NaN
    assert quality.row_balance("t", 10, 7, 2).violations == 1
    assert quality.row_balance("t", 10, 8, 2).passed


def test_references_finds_orphans(spark):
    fact = spark.createDataFrame([(1,), (2,), (-1,)], "k INT")
    dim = spark.createDataFrame([(1,), (-1,)], "k INT")
    assert quality.references(fact, "fact", dim, "k").violations == 1


def test_enforce_names_every_failed_check_table_and_counts(df):
    results = [quality.not_null(df, "interim.parking_sensor", ["bay_id"]), quality.row_balance("interim.x", 3, 1, 1)]
    with pytest.raises(quality.DataQualityError) as raised:
        quality.enforce(results)
    message = str(raised.value)
    assert "not_null on interim.parking_sensor: FAILED (1 violating): 1 rows with a null in (bay_id)" in message
    assert "row_balance on interim.x: FAILED (1 violating): input 3 = good 1 + malformed 1 is off by 1" in message
    assert len(raised.value.failures) == 2


def test_enforce_returns_passing_results(df):
    ok = quality.in_domain(df.where("status = 'Present'"), "t", "status", ["Present"])
    assert quality.enforce([ok]) == [ok]
