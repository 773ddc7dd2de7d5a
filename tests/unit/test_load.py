from datetime import datetime, timezone

import pytest

from parking_sensors.load import Load


def test_parse_known_load_time_gives_date_and_seconds_since_midnight():
    load = Load.parse("run-1", "2026-11-26T10:15:30Z")
    assert load.date_id == 20261126
    assert load.time_id == 10 * 3600 + 15 * 60 + 30  # 36930, not 101530


def test_time_id_is_taken_in_utc_whatever_the_offset_given():
    load = Load.parse("run-1", "2026-11-26T21:15:30+11:00")  # Melbourne summer time
    assert (load.date_id, load.time_id) == (20261126, 10 * 3600 + 15 * 60 + 30)


def test_time_id_bounds():
    assert Load.parse("a", "2026-01-01T00:00:00Z").time_id == 0
    assert Load.parse("a", "2026-01-01T23:59:59Z").time_id == 86399


def test_naive_timestamp_is_read_as_utc_and_empty_means_now():
    assert Load.parse("a", "2026-01-01T01:00:00").loaded_on == datetime(2026, 1, 1, 1, tzinfo=timezone.utc)
    now = Load.parse("a", "").loaded_on
    assert abs((datetime.now(timezone.utc) - now).total_seconds()) < 5


@pytest.mark.parametrize("load_id", ["", "a b", "x'; drop", "é"])
def test_unsafe_load_ids_are_refused_with_the_value(load_id):
    with pytest.raises(ValueError, match="load_id"):
        Load.parse(load_id, "2026-01-01T00:00:00Z")


def test_bad_timestamp_names_the_widget():
    with pytest.raises(ValueError, match="loaded_on: expected an ISO 8601 timestamp, got 'yesterday'"):
        Load.parse("a", "yesterday")


def test_lineage_columns_carry_the_exact_instant(spark):
    from pyspark.sql import functions as F

    load = Load.parse("run-7", "2026-11-26T10:15:30.250000Z")
    row = load.with_lineage(spark.range(1)).select("load_id", F.unix_micros("loaded_on").alias("us")).first()
    assert row["load_id"] == "run-7"
    assert row["us"] == int(datetime(2026, 11, 26, 10, 15, 30, tzinfo=timezone.utc).timestamp()) * 10**6 + 250000
