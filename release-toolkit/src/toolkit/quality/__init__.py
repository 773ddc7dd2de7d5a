"""The quality gates: tests with coverage, and lint."""
