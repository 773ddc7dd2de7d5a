"""The Databricks workspace through databricks-sdk: files and notebooks, clusters and libraries,
secret scopes, and notebook runs."""
