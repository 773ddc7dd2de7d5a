"""Building the data application: its version, its wheel and the wheelhouse of its dependencies."""
