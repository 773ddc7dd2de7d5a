# Databricks notebook source
"""The release audit's own notebook: the toolkit imports it into the workspace and runs it on the idle slot's
cluster. It belongs to the release, not to the application it audits, so a version cannot change how it is
judged; it needs only PySpark. Two modes:

- ``prepare``: a shadow area for one audit. Each of its roots (the live slot's and the idle slot's) gets a copy
  of the landed input and of the tables that carry state from one load to the next (the dimensions), read once
  from the live lake, without the rows the audited load itself wrote: both runs start from the state that load
  started from, as near as the lake can tell, and compute its new members again.
- ``compare``: the two roots' tables, one against the other: schema, row counts, business-key sets, per-column
  changed values with a few examples, and reference coverage (the share of facts at each dimension's unknown
  member). The result is the notebook's exit value, as JSON.

The functions are plain PySpark, tested on local Spark (tests/unit/test_audit_notebook.py).
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_MISSING = ("PATH_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA", "DELTA_MISSING_DELTA_TABLE", "DELTA_TABLE_NOT_FOUND")
KEY = "__audit_key"


def _path(root: str, relative: str) -> str:
    return f"{root.rstrip('/')}/{relative.strip('/')}"


def _filesystem(spark, path: str):
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def read_table(spark, root: str, table: str, table_format: str):
    """The table at ``root/table``, or None when it was never written."""
    from pyspark.errors import AnalysisException

    if table_format == "parquet":  # load ids are strings even when they look like numbers (as the application reads)
        spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    try:
        return spark.read.format(table_format).load(_path(root, table))
    except AnalysisException as exc:
        if (exc.getCondition() or "") in _MISSING:
            return None
        raise


def prepare(spark, live_root: str, roots: list[str], input_folder: str, start_tables: list[str], load_column: str,
            load_id: str, table_format: str) -> dict[str, Any]:
    """Fill each shadow root (emptied first: preparing again repairs a half-prepared area) from the live lake."""
    from pyspark.sql import functions as F

    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    source_fs, source = _filesystem(spark, _path(live_root, input_folder))
    if not source_fs.exists(source):
        raise FileNotFoundError(f"the audited input {input_folder} is not under {live_root}")
    files = [s.getPath().getName() for s in source_fs.listStatus(source) if s.isFile()]
    tables = {}
    for table in start_tables:
        df = read_table(spark, live_root, table, table_format)
        if df is None:
            tables[table] = None
            continue
        rows = df.count()
        if load_column in df.columns:
            df = df.where(~F.col(load_column).eqNullSafe(F.lit(load_id)))
        # Read once, written to every root: both runs start from the very same rows.
        df = df.localCheckpoint(eager=True)
        tables[table] = (df, rows, df.count())
    for root in roots:
        fs, path = _filesystem(spark, root)
        fs.delete(path, True)
        destination_fs, destination = _filesystem(spark, _path(root, input_folder))
        destination_fs.mkdirs(destination)
        for name in files:
            jvm.org.apache.hadoop.fs.FileUtil.copy(source_fs, jvm.org.apache.hadoop.fs.Path(source, name),
                                                   destination_fs, jvm.org.apache.hadoop.fs.Path(destination, name),
                                                   False, True, conf)
        for table, copied in tables.items():
            if copied is not None:
                copied[0].write.format(table_format).mode("overwrite").save(_path(root, table))
    return {"mode": "prepare", "input_files": sorted(files),
            "start_tables": {t: (None if c is None else {"rows": c[1], "kept": c[2]}) for t, c in tables.items()}}


def _plain(value: Any) -> Any:
    """A value as JSON can hold it (examples carry timestamps, decimals, dates)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and value != value:
        return "NaN"
    return value


def _schema(df) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in df.schema.fields}


def _keyed(df, keys: list[str]):
    from pyspark.sql import functions as F

    # One string per key, nulls included (the unknown member's business key is null): joins stay plain equality.
    return df.withColumn(KEY, F.to_json(F.struct(*[F.col(k) for k in keys]), {"ignoreNullFields": "false"}))


def compare_table(baseline, candidate, keys: list[str], examples: int) -> dict[str, Any]:
    """One table of the candidate against the baseline (either may be None: never written on that side)."""
    from pyspark.sql import functions as F

    result: dict[str, Any] = {"keys": keys}
    if baseline is None or candidate is None:
        result["missing"] = "both" if baseline is None and candidate is None else \
            "baseline" if baseline is None else "candidate"
        result["rows"] = {"baseline": baseline.count() if baseline is not None else 0,
                          "candidate": candidate.count() if candidate is not None else 0}
        return result
    before, after = _schema(baseline), _schema(candidate)
    result["schema"] = {
        "added": [{"column": c, "type": t} for c, t in after.items() if c not in before],
        "removed": [{"column": c, "type": t} for c, t in before.items() if c not in after],
        "retyped": [{"column": c, "from": t, "to": after[c]} for c, t in before.items()
                    if c in after and after[c] != t],
    }
    common = [c for c in before if c in after]
    if not keys or any(k not in common for k in keys):
        # Without a business key (or with one the candidate dropped), rows are compared whole, as multisets.
        result["rows"] = {"baseline": baseline.count(), "candidate": candidate.count()}
        if keys:
            result["keys_missing"] = [k for k in keys if k not in common]
        b, c = baseline.select(*common), candidate.select(*common)
        result["rows_only"] = {"baseline": b.exceptAll(c).count(), "candidate": c.exceptAll(b).count()}
        return result

    # Every key once, with how many rows carry it on each side: the key sets and the row counts in one pass.
    b, c = _keyed(baseline, keys), _keyed(candidate, keys)
    on_b, on_c = F.col("on_baseline"), F.col("on_candidate")
    key_rows = b.groupBy(KEY).agg(F.count("*").alias("on_baseline")).join(
        c.groupBy(KEY).agg(F.count("*").alias("on_candidate")), KEY, "full_outer").cache()

    def count_where(condition):
        return F.coalesce(F.sum(F.when(condition, 1).otherwise(0)), F.lit(0))

    stats = key_rows.agg(F.count(on_b).alias("baseline"), F.count(on_c).alias("candidate"),
                         count_where(on_b.isNull()).alias("added"), count_where(on_c.isNull()).alias("removed"),
                         count_where(on_b > 1).alias("repeated_b"), count_where(on_c > 1).alias("repeated_c"),
                         F.coalesce(F.sum(on_b), F.lit(0)).alias("rows_b"),
                         F.coalesce(F.sum(on_c), F.lit(0)).alias("rows_c")).first()
    result["rows"] = {"baseline": int(stats["rows_b"]), "candidate": int(stats["rows_c"])}

    def key_examples(condition, n: int) -> list:
        if not n or not examples:
            return []
        return [json.loads(r[KEY]) for r in key_rows.where(condition).orderBy(KEY).limit(examples).collect()]

    result["key_changes"] = {
        "baseline": int(stats["baseline"]), "candidate": int(stats["candidate"]),
        "added": int(stats["added"]), "removed": int(stats["removed"]),
        "added_examples": key_examples(on_b.isNull(), stats["added"]),
        "removed_examples": key_examples(on_c.isNull(), stats["removed"]),
        "repeated": {"baseline": int(stats["repeated_b"]), "candidate": int(stats["repeated_c"])},
    }
    # Values are compared where a key is on both sides once (a repeated key has no one row to compare with).
    once = key_rows.where((on_b == 1) & (on_c == 1)).select(KEY)
    values = [col for col in common if col not in keys]
    left = b.join(once, KEY).select(KEY, *[F.col(v).alias(f"b_{i}") for i, v in enumerate(values)])
    right = c.join(once, KEY).select(KEY, *[F.col(v).alias(f"c_{i}") for i, v in enumerate(values)])
    matched = left.join(right, KEY).cache()

    def differs(i: int, column: str):
        lhs, rhs = F.col(f"b_{i}"), F.col(f"c_{i}")
        if before[column] != after[column]:  # retyped: compared as text
            lhs, rhs = lhs.cast("string"), rhs.cast("string")
        return ~lhs.eqNullSafe(rhs)

    counts = matched.agg(F.count("*").alias("matched"), *[
        F.sum(differs(i, v).cast("long")).alias(f"d_{i}") for i, v in enumerate(values)]).first()
    result["matched"] = int(counts["matched"])
    changed = {}
    for i, column in enumerate(values):
        n = int(counts[f"d_{i}"] or 0)
        if n:
            rows = matched.where(differs(i, column)).orderBy(KEY).limit(examples).collect()
            changed[column] = {"rows": n, "examples": [{"key": json.loads(r[KEY]), "baseline": _plain(r[f"b_{i}"]),
                                                        "candidate": _plain(r[f"c_{i}"])} for r in rows]}
    result["changed"] = changed
    for df in (key_rows, matched):
        df.unpersist()
    return result


def coverage(df, columns: dict[str, str], unknown_key: int) -> dict[str, dict[str, Any]]:
    """Per dimension (by the fact's key column): the facts at its unknown member, and their share."""
    from pyspark.sql import functions as F

    present = {c: d for c, d in columns.items() if c in df.columns}
    row = df.agg(F.count("*").alias("facts"), *[
        F.coalesce(F.sum((F.col(c) == unknown_key).cast("long")), F.lit(0)).alias(c) for c in present]).first()
    facts = int(row["facts"])
    found = {d: {"facts": facts, "unknown": int(row[c]), "share": round(int(row[c]) / facts, 6) if facts else 0.0}
             for c, d in present.items()}
    return {**found, **{d: None for c, d in columns.items() if c not in present}}


def compare(spark, baseline_root: str, candidate_root: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Every table ``settings["tables"]`` names (table -> business key), and reference coverage."""
    table_format, examples = settings["table_format"], int(settings.get("examples", 3))
    tables = {}
    for table, keys in settings["tables"].items():
        tables[table] = compare_table(read_table(spark, baseline_root, table, table_format),
                                      read_table(spark, candidate_root, table, table_format), list(keys), examples)
    wanted = settings.get("coverage")
    result: dict[str, Any] = {"mode": "compare", "tables": tables, "coverage": {},
                              "coverage_table": wanted["table"] if wanted else None}
    if wanted:
        for side, root in (("baseline", baseline_root), ("candidate", candidate_root)):
            fact = read_table(spark, root, wanted["table"], table_format)
            if fact is not None:
                for dimension, measured in coverage(fact, wanted["columns"], wanted["unknown_key"]).items():
                    result["coverage"].setdefault(dimension, {})[side] = measured
    return result


# COMMAND ----------

if "dbutils" in globals():  # run as a notebook (imported by a test, it only defines the functions above)
    dbutils.widgets.dropdown("mode", "compare", ["prepare", "compare"], "prepare or compare")  # noqa: F821
    for _name in ("live_root", "baseline_root", "candidate_root", "settings"):
        dbutils.widgets.text(_name, "", _name)  # noqa: F821
    _settings = json.loads(dbutils.widgets.get("settings") or "{}")  # noqa: F821
    _roots = [dbutils.widgets.get("baseline_root"), dbutils.widgets.get("candidate_root")]  # noqa: F821
    if dbutils.widgets.get("mode") == "prepare":  # noqa: F821
        _result = prepare(spark, dbutils.widgets.get("live_root"), _roots, _settings["input"],  # noqa: F821
                          _settings["start_tables"], _settings["load_column"], _settings["load_id"],
                          _settings["table_format"])
    else:
        _result = compare(spark, *_roots, _settings)  # noqa: F821
    dbutils.notebook.exit(json.dumps(_result))  # noqa: F821
