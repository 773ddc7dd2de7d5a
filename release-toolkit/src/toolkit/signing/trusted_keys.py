"""The public keys a job trusts, and which of them it accepts for what.

The keys themselves (name, Key Vault key id, public key PEM) come from a file the job supplies, never from
a bundle: ``PARKING_TRUSTED_KEYS`` names it (a pipeline's secure file); on the sandbox target it defaults to
the one ``inv sandbox.up`` writes for the sandbox's signing vault. Several keys may share a name: during a
rotation both versions of ``release-signer`` are trusted. The same file says, per environment, which names it
accepts for bundles and for each earlier stage's promotion evidence (``[trust.<environment>]``): that policy
decides whether a bundle is believed at all, so it cannot come from the bundle (whose environment files it
would otherwise vouch for itself).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import Field, ValidationError, field_validator

from toolkit.configuration import ConfigError, Strict, explain, read_toml

VARIABLE = "PARKING_TRUSTED_KEYS"
SANDBOX_FILE = "trusted-keys.toml"  # in the sandbox's home
NAME = r"^[0-9A-Za-z-]{1,127}$"  # a Key Vault key name
KEY_ID = r"^https://[^/\s]+/keys/[0-9A-Za-z-]{1,127}/[0-9a-fA-F]{32}$"  # with its version: a key id names one key


class TrustedKey(Strict):
    name: str = Field(pattern=NAME, description="the name the environment files trust it by")
    key_id: str = Field(pattern=KEY_ID, description="the Key Vault key id, with its version")
    public_key: str = Field(description="the public key, PEM (`az keyvault key download --encoding PEM`)")

    @field_validator("public_key")
    @classmethod
    def _loads(cls, value: str) -> str:
        try:
            key = serialization.load_pem_public_key(value.strip().encode())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a PEM public key ({exc})") from None
        if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            raise ValueError("only RSA and EC keys sign releases")
        return value.strip() + "\n"

    def public(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        return serialization.load_pem_public_key(self.public_key.encode())


class EnvironmentTrust(Strict):
    """Which signers one environment accepts, by key name: several names, or several keys of one name, during a
    rotation."""
    bundles: list[str] = Field(min_length=1, description="keys whose signature on a bundle's manifest is accepted")
    evidence: dict[str, list[str]] = Field(
        default_factory=dict, description="for each earlier stage: the keys its promotion evidence must be signed with")


class TrustedKeys(Strict):
    key: list[TrustedKey] = Field(default_factory=list, description="one [[key]] table per trusted key")
    trust: dict[str, EnvironmentTrust] = Field(default_factory=dict,
                                               description="one [trust.<environment>] table per environment deployed")


@dataclass(frozen=True)
class Trust:
    """The keys known to the job, and the names of those accepted for one purpose."""
    keys: tuple[TrustedKey, ...]
    accepted: tuple[str, ...]
    purpose: str  # "qa for bundles", "prod for qa's promotion evidence"
    keys_source: str


@dataclass(frozen=True)
class KnownKeys:
    """Every key of the job's trusted keys file (any purpose), and what each environment accepts."""
    keys: tuple[TrustedKey, ...]
    source: str
    trust: dict[str, EnvironmentTrust] = field(default_factory=dict)

    def accepting(self, names, purpose: str) -> Trust:
        return Trust(self.keys, tuple(names), purpose, self.source)

    def _policy(self, environment: str) -> EnvironmentTrust:
        found = self.trust.get(environment)
        if found is None:
            raise ConfigError(f"{self.source}: has no [trust.{environment}] table: it must say which keys "
                              f"{environment} accepts, e.g. bundles = [\"release-signer\"] (README, \"Signed "
                              "releases\")")
        return found

    def bundle_trust(self, environment: str) -> Trust:
        """The keys whose signature on a bundle ``environment`` accepts."""
        return self.accepting(self._policy(environment).bundles, f"{environment} (for bundles)")

    def evidence_trust(self, environment: str, of: str) -> Trust:
        """The keys whose signature on ``of``'s promotion evidence ``environment`` accepts (an environment whose
        promotion requires ``of`` and names no such key cannot promote anything: a configuration error)."""
        names = self._policy(environment).evidence.get(of)
        if not names:
            raise ConfigError(f"{self.source}: [trust.{environment}] names no key that signs {of}'s promotion "
                              f"evidence, which {environment}'s promotion requires (e.g. evidence = {{ {of} = "
                              f"[\"{of}-signer\"] }})")
        return self.accepting(names, f"{environment} (for {of}'s promotion evidence)")

    def evidence_names(self, environment: str) -> list[str]:
        """The stages whose evidence ``environment`` names keys for."""
        return sorted(self._policy(environment).evidence)

    @classmethod
    def only(cls, key: TrustedKey, source: str, purpose: str) -> Trust:
        """Trust in exactly one key."""
        return cls((key,), source).accepting([key.name], purpose)


def same_key_id(a: str, b: str) -> bool:
    """Key ids name the same key version (a vault's host name is case-insensitive, its path is not)."""
    first, second = urlsplit(a), urlsplit(b)
    return (first.scheme, first.netloc.lower(), first.path.rstrip("/")) == \
        (second.scheme, second.netloc.lower(), second.path.rstrip("/"))


def trusted_keys_file(target: str, sandbox_home: Path | None) -> Path:
    """Where the job's trusted keys are: ``$PARKING_TRUSTED_KEYS``, else the sandbox's own file on the sandbox."""
    given = os.environ.get(VARIABLE)
    if given:
        return Path(given)
    if target == "sandbox" and sandbox_home is not None:
        return sandbox_home / SANDBOX_FILE
    raise ConfigError(f"{VARIABLE} is not set: on the {target} target it must name the file of trusted public keys "
                      "(a pipeline secure file; never one from the bundle), see the README's \"Signed releases\"")


def load_trusted_keys(path: Path) -> KnownKeys:
    document = read_toml(path, f"trusted keys file (${VARIABLE}, or on the sandbox the one `inv sandbox.up` writes)")
    try:
        found = TrustedKeys.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(explain(exc, str(path))) from None
    keys = found.key
    seen: dict[str, str] = {}
    for key in keys:
        for other, name in seen.items():
            if same_key_id(other, key.key_id):
                raise ConfigError(f"{path}: key id {key.key_id} is listed twice (as {name} and {key.name})")
        seen[key.key_id] = key.name
    if not keys:
        raise ConfigError(f"{path}: lists no key: it must hold one [[key]] table per trusted public key (is "
                          f"{VARIABLE}'s content set in this job?)")
    names = {key.name for key in keys}
    for environment, policy in found.trust.items():
        evidence = [(f"evidence.{of}", listed) for of, listed in policy.evidence.items()]
        for where, listed in [("bundles", policy.bundles), *evidence]:
            unknown = sorted(set(listed) - names)
            if unknown:
                raise ConfigError(f"{path}: trust.{environment}.{where} names {', '.join(unknown)}, which no [[key]] "
                                  f"is called (it lists {', '.join(sorted(names))})")
    return KnownKeys(tuple(keys), str(path), dict(found.trust))


def key_from_pem_file(path: Path, key_id: str) -> TrustedKey:
    """A single public key given on the command line (``inv verify --key FILE``), for the key id it must match."""
    try:
        pem = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the public key: {exc}") from None
    name = re.sub(r"[^0-9A-Za-z-]", "-", path.stem)[:127] or "key"
    try:
        return TrustedKey(name=name, key_id=key_id, public_key=pem)
    except ValidationError as exc:
        raise ConfigError(explain(exc, str(path))) from None


def public_key_pem(jwk) -> str:
    """The PEM of a Key Vault key's public part (a JsonWebKey: RSA n/e, or EC crv/x/y)."""
    curves = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1, "P-256K": ec.SECP256K1}
    if jwk.n:
        public = rsa.RSAPublicNumbers(int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")).public_key()
    else:
        public = ec.EllipticCurvePublicNumbers(int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"),
                                               curves[str(jwk.crv)]()).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def render(keys: list[TrustedKey], trust: dict[str, EnvironmentTrust]) -> str:
    """A trusted keys file holding ``keys`` and each environment's ``trust`` (TOML, as :func:`load_trusted_keys`
    reads it)."""
    blocks = ["# Public keys this job trusts, and which of them each environment accepts for what.\n"]
    for key in keys:
        blocks.append(f'[[key]]\nname = "{key.name}"\nkey_id = "{key.key_id}"\npublic_key = """\n'
                      f'{key.public_key}"""\n')
    for environment, policy in trust.items():
        evidence = ", ".join(f"{of} = {json.dumps(names)}" for of, names in sorted(policy.evidence.items()))
        blocks.append(f"[trust.{environment}]\nbundles = {json.dumps(policy.bundles)}\n"
                      + (f"evidence = {{ {evidence} }}\n" if evidence else ""))
    return "\n".join(blocks)
