"""Clients of the Azure services the release talks to: ARM, Data Factory, Key Vault, Storage."""
