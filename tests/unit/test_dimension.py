from parking_sensors.dimension import DimensionSpec, UNKNOWN_MEMBER_LOAD_ID, merge_dimension
from parking_sensors.load import Load

SPEC = DimensionSpec(name="dim_bay", key="dim_bay_id", business_keys=("bay_id",), attributes=("desc",))
L1 = Load.parse("l1", "2026-01-01T00:00:00Z")
L2 = Load.parse("l2", "2026-01-02T00:00:00Z")


def _incoming(spark, rows):
    return spark.createDataFrame(rows, "bay_id INT, desc STRING")


def _rows(df):
    return {r.bay_id: (r.dim_bay_id, r.desc, r.load_id) for r in df.collect()}


def test_first_load_numbers_keys_in_business_key_order_and_adds_the_unknown_member(spark):
    dim = merge_dimension(None, _incoming(spark, [(30, "c"), (10, "a"), (20, "b")]), SPEC, L1)
    assert _rows(dim) == {None: (-1, None, UNKNOWN_MEMBER_LOAD_ID), 10: (1, "a", "l1"), 20: (2, "b", "l1"),
                          30: (3, "c", "l1")}


def test_rerunning_a_load_gives_identical_rows(spark):
    incoming = _incoming(spark, [(10, "a"), (20, "b")])
    first = merge_dimension(None, incoming, SPEC, L1)
    again = merge_dimension(first, incoming, SPEC, L1)
    assert sorted(first.collect()) == sorted(again.collect())


def test_a_second_load_keeps_keys_updates_changed_rows_and_numbers_new_ones_after_the_max(spark):
    first = merge_dimension(None, _incoming(spark, [(10, "a"), (20, "b"), (30, "c")]), SPEC, L1)
    second = merge_dimension(first, _incoming(spark, [(20, "b"), (30, "C"), (5, "new"), (40, "new")]), SPEC, L2)
    assert _rows(second) == {
        None: (-1, None, UNKNOWN_MEMBER_LOAD_ID),
        10: (1, "a", "l1"),    # not in this load: kept as it was
        20: (2, "b", "l1"),    # unchanged: kept, lineage too
        30: (3, "C", "l2"),    # updated: same key, new attribute and lineage
        5: (4, "new", "l2"),   # new keys after the max, in business-key order
        40: (5, "new", "l2"),
    }


def test_duplicate_and_null_business_keys_in_a_load_do_not_multiply_rows(spark):
    dim = merge_dimension(None, _incoming(spark, [(10, "b"), (10, "a"), (None, "x")]), SPEC, L1)
    assert _rows(dim) == {None: (-1, None, UNKNOWN_MEMBER_LOAD_ID), 10: (1, "a", "l1")}


def test_a_dimension_that_lost_its_unknown_member_gets_it_back(spark):
    first = merge_dimension(None, _incoming(spark, [(10, "a")]), SPEC, L1)
    damaged = first.where("dim_bay_id <> -1")
    repaired = merge_dimension(damaged, _incoming(spark, [(10, "a")]), SPEC, L1)
    assert sorted(repaired.collect()) == sorted(first.collect())
