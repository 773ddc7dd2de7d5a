"""Verify a bundle folder against its manifest: every file present with its size and sha256, nothing extra."""
from __future__ import annotations

from pathlib import Path

from toolkit.bundle.manifest import MANIFEST, SIGNATURE, Manifest, sha256_file


class BundleError(Exception):
    """A bundle that does not match its manifest; the message names the offending file."""


def read_manifest(bundle: Path) -> Manifest:
    path = bundle / MANIFEST
    if not path.is_file():
        raise BundleError(f"{bundle}: no {MANIFEST}: not a bundle, or an incomplete one")
    return Manifest.from_json(path.read_bytes(), str(path))


def verify_bundle(bundle: Path) -> Manifest:
    manifest = read_manifest(bundle)
    for entry in manifest.files:
        path = bundle / entry.path
        if not path.is_file():
            raise BundleError(f"{entry.path}: missing from the bundle at {bundle}")
        size = path.stat().st_size
        if size != entry.size:
            raise BundleError(f"{entry.path}: size {size} does not match the manifest's {entry.size}")
        if sha256_file(path) != entry.sha256:
            raise BundleError(f"{entry.path}: sha256 does not match the manifest (tampered or corrupt)")
    listed = {entry.path for entry in manifest.files} | {MANIFEST, SIGNATURE}
    extra = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()
                   and p.relative_to(bundle).as_posix() not in listed)
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise BundleError(f"{extra[0]}: in the bundle but not in its manifest{more}")
    return manifest
