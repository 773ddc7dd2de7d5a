"""City of Melbourne parking sensor pipeline: pure DataFrame transforms shipped as a wheel.

Notebooks read widgets, do I/O through :mod:`parking_sensors.tables`, and call
:mod:`parking_sensors.pipeline`; everything else here is a plain function over DataFrames.
"""
from importlib.metadata import PackageNotFoundError, version as _dist_version

try:
    __version__ = _dist_version("parking-sensors")
except PackageNotFoundError:  # running from a source tree, not an installed wheel
    __version__ = "0.0.0+source"
