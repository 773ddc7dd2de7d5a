"""A Databricks workspace REST API (the subset the release uses) that runs notebooks for real."""
