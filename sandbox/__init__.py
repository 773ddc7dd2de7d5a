"""The local cloud: stand-ins for the Azure and Databricks services the release uses, run offline."""
