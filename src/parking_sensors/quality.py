"""Data-quality checks as code. A check yields a result; ``enforce`` fails the run on any violation
with a message that names the check, the table and the counts."""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Iterable, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class CheckResult:
    check: str
    table: str
    violations: int
    detail: str

    @property
    def passed(self) -> bool:
        return self.violations == 0

    def __str__(self) -> str:
        verdict = "ok" if self.passed else f"FAILED ({self.violations} violating)"
        return f"{self.check} on {self.table}: {verdict}: {self.detail}"


class DataQualityError(Exception):
    def __init__(self, failures: Sequence[CheckResult]):
        self.failures = list(failures)
        super().__init__("data-quality checks failed: " + " | ".join(str(f) for f in failures))


def not_null(df: DataFrame, table: str, columns: Sequence[str]) -> CheckResult:
    condition = reduce(lambda a, b: a | b, [F.col(c).isNull() for c in columns])
    bad = df.where(condition).count()
    return CheckResult("not_null", table, bad, f"{bad} rows with a null in ({', '.join(columns)})")


def unique(df: DataFrame, table: str, columns: Sequence[str]) -> CheckResult:
    dupes = df.groupBy(*columns).count().where("count > 1")
    row = dupes.agg(F.count("*").alias("keys"), F.coalesce(F.sum("count"), F.lit(0)).alias("rows")).first()
    return CheckResult("unique", table, int(row["rows"]),
                       f"{row['keys']} values of ({', '.join(columns)}) repeated over {row['rows']} rows")


def in_domain(df: DataFrame, table: str, column: str, domain: Iterable[str]) -> CheckResult:
    values = list(domain)
    bad = df.where(F.col(column).isNull() | ~F.col(column).isin(*values)).count()
    return CheckResult("in_domain", table, bad, f"{bad} rows with {column} outside {values}")


def in_range(df: DataFrame, table: str, column: str, low: float, high: float) -> CheckResult:
    value = F.col(column)
    bad = df.where(value.isNull() | F.isnan(value) | ~value.between(low, high)).count()
    return CheckResult("in_range", table, bad, f"{bad} rows with {column} outside [{low}, {high}]")


def row_balance(table: str, input_rows: int, good_rows: int, malformed_rows: int) -> CheckResult:
    lost = input_rows - good_rows - malformed_rows
    return CheckResult("row_balance", table, abs(lost),
                       f"input {input_rows} = good {good_rows} + malformed {malformed_rows}"
                       + ("" if lost == 0 else f" is off by {lost}"))


def references(fact: DataFrame, table: str, dim: DataFrame, key: str) -> CheckResult:
    orphans = fact.join(dim.select(key), on=key, how="left_anti").count()
    return CheckResult("references", table, orphans, f"{orphans} rows whose {key} is not in the dimension")


def unknown_share(fact: DataFrame, key: str, unknown_key: int) -> dict[str, float | int]:
    """Reference coverage of one dimension: how many facts point at its unknown member, and their share (0 for
    no facts). A lookup that silently stops matching shows here, though every key still resolves."""
    row = fact.agg(F.count("*").alias("facts"),
                   F.coalesce(F.sum((F.col(key) == unknown_key).cast("int")), F.lit(0)).alias("unknown")).first()
    facts, unknown = int(row["facts"]), int(row["unknown"])
    return {"facts": facts, "unknown": unknown, "share": round(unknown / facts, 6) if facts else 0.0}


def enforce(results: Iterable[CheckResult]) -> list[CheckResult]:
    """Return the results, or raise DataQualityError naming every failed check."""
    results = list(results)
    failures = [r for r in results if not r.passed]
    if failures:
        raise DataQualityError(failures)
    return results
