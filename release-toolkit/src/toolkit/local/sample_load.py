"""One load of the sample extracts through the real notebooks, on local Spark.

The notebooks run in the order ADF runs them (setup, standardize, transform, then the
integration-test notebook), with the lake in a local folder and tables in Parquet.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

NOTEBOOK_SEQUENCE = ("00_setup", "01_standardize", "02_transform", "99_integration_test")
SAMPLE_FILES = ("MelbParkingSensorData.json", "MelbParkingBayData.json")


@dataclass(frozen=True)
class SampleLoad:
    lake: Path
    load_id: str
    loaded_on: str
    table_format: str = "parquet"

    @property
    def landing(self) -> str:
        return f"lnd/{self.load_id}"

    def parameters(self, notebook: str) -> dict[str, str]:
        common = {"lake_root": str(self.lake), "table_format": self.table_format}
        per_notebook = {
            "00_setup": {},
            "01_standardize": {"infilefolder": self.landing, "load_id": self.load_id, "loaded_on": self.loaded_on},
            "02_transform": {"load_id": self.load_id, "loaded_on": self.loaded_on},
            "99_integration_test": {"infilefolder": self.landing, "load_id": self.load_id},
        }
        return {**common, **per_notebook[notebook]}


def land_sample_data(load: SampleLoad, source: Path) -> Path:
    """Copy the extracts into the load's landing folder, as ADF's copy activity does."""
    landing = load.lake / load.landing
    landing.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_FILES:
        shutil.copyfile(source / name, landing / name)
    return landing


def run_sample_load(runtime: Any, load: SampleLoad, notebooks: Path, source: Path,
                    progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Land the extracts (from ``source``) and run every notebook (of ``notebooks``); returns each notebook's exit
    summary by name."""
    land_sample_data(load, source)
    summaries = {}
    for notebook in NOTEBOOK_SEQUENCE:
        progress(f"running notebook {notebook} (load {load.load_id})")
        result = runtime.run(notebooks / notebook, load.parameters(notebook))
        summaries[notebook] = json.loads(result.exit_value)
        progress(f"  done in {result.duration_s:.1f}s")
    return summaries
