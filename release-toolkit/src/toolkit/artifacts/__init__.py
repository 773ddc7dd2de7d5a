"""The artifact store: published bundles, immutable by version."""
