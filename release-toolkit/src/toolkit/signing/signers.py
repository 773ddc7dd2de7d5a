"""Who signs: ``environments/signing.toml`` names the vault and its keys; a :class:`KeyVaultSigner` signs a
document's SHA-256 digest with the Key Vault keys API (``sign``), so the private key never leaves the vault.

The vault is long-lived and the release's own (never QA's, which is torn down): ``publish`` signs bundles
with the build pipeline's key, and a stage whose integration tests pass signs its promotion evidence with
that stage's key. Each job's identity needs ``sign`` (and ``get``) on its own key only.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError

from toolkit.configuration import ConfigError, Strict, explain, read_toml
from toolkit.signing.signatures import Signature
from toolkit.signing.trusted_keys import NAME, TrustedKey, public_key_pem

BUNDLES = "bundles"  # the key that signs bundles, in [keys]


class SigningConfig(Strict):
    vault: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$",
                       description="the long-lived vault of the signing keys (never QA's)")
    algorithm: Literal["RS256", "PS256", "ES256"] = "RS256"
    keys: dict[str, Annotated[str, Field(pattern=NAME)]] = Field(
        description="what signs = the key's name in the vault: bundles, qa, staging")
    source: str = ""

    def key_for(self, purpose: str) -> str:
        if purpose not in self.keys:
            raise ConfigError(f"{self.source}: keys.{purpose}: no key signs {purpose} (name one, e.g. "
                              f"{purpose} = \"{purpose}-signer\")")
        return self.keys[purpose]


def load_signing_config(path: Path) -> SigningConfig:
    document = read_toml(path, "signing configuration")
    try:
        config = SigningConfig.model_validate({**document, "source": str(path)})
    except ValidationError as exc:
        raise ConfigError(explain(exc, str(path))) from None
    return config


class KeyVaultSigner:
    """Signs with the current version of one Key Vault key; the key is read once (its id names the version)."""

    def __init__(self, target, config: SigningConfig, purpose: str):
        self.target, self.config, self.purpose = target, config, purpose
        self.key_name = config.key_for(purpose)
        self._key = None

    def describe(self) -> str:
        return f"key {self.key_name} of vault {self.config.vault}"

    def _vault_key(self):
        if self._key is None:
            from azure.core.exceptions import ResourceNotFoundError
            from azure.keyvault.keys import KeyClient

            client = KeyClient(self.target.vault_url(self.config.vault), self.target.credential,
                               **self.target.keyvault_options())
            try:
                self._key = client.get_key(self.key_name)
            except ResourceNotFoundError:
                kind = "--kty EC --curve P-256" if self.config.algorithm == "ES256" else "--kty RSA --size 3072"
                raise ConfigError(f"{self.config.source}: keys.{self.purpose}: the signing {self.describe()} does not "
                                  "exist (create it once: az keyvault key create --vault-name "
                                  f"{self.config.vault} --name {self.key_name} {kind} --ops sign verify)") from None
        return self._key

    def trusted_key(self) -> TrustedKey:
        """This signer's current key, as a job that trusts it lists it."""
        key = self._vault_key()
        return TrustedKey(name=self.key_name, key_id=key.id, public_key=public_key_pem(key.key))

    def sign(self, document: bytes, what: str) -> Signature:
        import base64

        from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm

        key = self._vault_key()
        client = CryptographyClient(key, self.target.credential, **self.target.keyvault_options())
        digest = hashlib.sha256(document)
        result = client.sign(SignatureAlgorithm(self.config.algorithm), digest.digest())
        return Signature(self.config.algorithm, result.key_id or key.id, digest.hexdigest(),
                         base64.b64encode(result.signature).decode(), what)
