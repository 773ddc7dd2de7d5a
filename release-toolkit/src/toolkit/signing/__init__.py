"""Signed releases: who signed a bundle's manifest or a stage's promotion evidence (Key Vault keys), and
whether the job trusts that key for it (public keys the job supplies, never the bundle)."""
