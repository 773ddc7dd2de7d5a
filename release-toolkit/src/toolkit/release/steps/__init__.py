"""The steps of a release stage, in the order a stage runs them. Each plans with reads only and
returns the writes to make as its plan's ``apply``."""
