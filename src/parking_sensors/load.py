"""The identity of one load: every row it writes carries this lineage."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

LINEAGE_COLUMNS = ("load_id", "loaded_on")
# Load ids become partition directory names and predicates: keep them to a safe alphabet.
_LOAD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True)
class Load:
    """A load: its id (the ADF run id, say) and the instant it was taken, in UTC."""

    load_id: str
    loaded_on: datetime

    def __post_init__(self) -> None:
        if not _LOAD_ID.fullmatch(self.load_id or ""):
            raise ValueError(f"load_id: expected 1-128 of [A-Za-z0-9._:-] (an ADF run id, say), got {self.load_id!r}")
        if self.loaded_on.tzinfo is None:
            raise ValueError(f"loaded_on must be timezone-aware, got naive {self.loaded_on.isoformat()}")

    @classmethod
    def parse(cls, load_id: str, loaded_on: str | None) -> "Load":
        """Build a load from notebook widget strings; an empty loaded_on means now."""
        if not loaded_on:
            return cls(load_id, datetime.now(timezone.utc).replace(microsecond=0))
        try:
            instant = datetime.fromisoformat(loaded_on.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"loaded_on: expected an ISO 8601 timestamp, got {loaded_on!r}") from exc
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=timezone.utc)
        return cls(load_id, instant.astimezone(timezone.utc))

    @property
    def date_id(self) -> int:
        """yyyyMMdd of the load instant, in UTC."""
        return int(self.loaded_on.astimezone(timezone.utc).strftime("%Y%m%d"))

    @property
    def time_id(self) -> int:
        """Seconds since midnight (UTC) of the load instant: 0 to 86399."""
        utc = self.loaded_on.astimezone(timezone.utc)
        return utc.hour * 3600 + utc.minute * 60 + utc.second

    def loaded_on_column(self) -> Column:
        # From epoch microseconds, so the instant does not depend on any session time zone.
        micros = int(self.loaded_on.timestamp()) * 1_000_000 + self.loaded_on.microsecond
        return F.timestamp_micros(F.lit(micros))

    def with_lineage(self, df: DataFrame) -> DataFrame:
        return df.withColumn("load_id", F.lit(self.load_id)).withColumn("loaded_on", self.loaded_on_column())
