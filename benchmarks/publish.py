"""Benchmark of issue 3: publishing a 200-file bundle to Azurite.

    ./dev python benchmarks/publish.py [--files 200] [--latency-ms 10] [--json]

Prints, in one run, the wall time of publishing the same bundle with the concurrent uploader
and one file at a time, and of re-publishing the published version (bar: no file bytes
uploaded). Two placements of the store are measured:

- loopback: Azurite on this machine. Every request costs CPU on both sides (the Python
  client and Azurite's Node process) and there is no network wait to overlap, so on a
  2-core machine concurrency cannot win more than about 2x here.
- network: the same Azurite behind a proxy adding --latency-ms per request/response turn,
  as a store in a cloud region is from a CI agent; this is what concurrency is for
  (bar: at least 3x faster).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "release-toolkit" / "src")]

from azure.storage.blob import BlobServiceClient  # noqa: E402

from sandbox.azurite import DEV_ACCOUNT, DEV_KEY, Azurite  # noqa: E402
from tests.signing_helpers import LocalSigner  # noqa: E402  (the upload is measured, not Key Vault's sign)
from sandbox.latency_proxy import LatencyProxy  # noqa: E402
from toolkit.artifacts.publish import publish  # noqa: E402
from toolkit.artifacts.stores import BlobStore  # noqa: E402
from toolkit.bundle.manifest import MANIFEST, FileEntry, Manifest  # noqa: E402


def make_bundle(folder: Path, count: int) -> Manifest:
    """``count`` files shaped like a release bundle: mostly notebooks and definitions of 1 to 32 KB,
    every tenth a dependency wheel of 100 KB to 1 MB. Deterministic content."""
    rng = random.Random(42)
    roles = ["notebook", "adf", "arm-template", "cluster-config", "script"]
    entries = []
    for i in range(count):
        role = "dependency" if i % 10 == 0 else roles[i % len(roles)]
        size = rng.randint(100_000, 1_000_000) if role == "dependency" else rng.randint(1024, 32 * 1024)
        data = rng.randbytes(size)
        path = f"{role}/file{i:04}.bin"
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
        entries.append(FileEntry(path, role, len(data), hashlib.sha256(data).hexdigest()))
    manifest = Manifest("benchmark", "1.0.0", "0" * 40, "2026-11-26T00:00:00Z", {}, tuple(entries))
    (folder / MANIFEST).write_bytes(manifest.to_json())
    return manifest


def store_at(endpoint: str, container: str) -> BlobStore:
    connection = (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
                  f"BlobEndpoint={endpoint};")
    client = BlobServiceClient.from_connection_string(connection).get_container_client(container)
    client.create_container()
    return BlobStore(client)


def measure(bundle: Path, endpoint: str, label: str, concurrency: int) -> dict:
    signer = LocalSigner()
    serial = publish(bundle, store_at(endpoint, f"{label}-serial"), signer, concurrency=1, show_progress=False)
    concurrent_store = store_at(endpoint, f"{label}-concurrent")
    concurrent = publish(bundle, concurrent_store, signer, concurrency=concurrency, show_progress=False)
    started = time.perf_counter()
    again = publish(bundle, concurrent_store, signer, concurrency=concurrency, show_progress=False)
    republish_s = time.perf_counter() - started
    return {"placement": label, "files": serial.uploaded_files, "megabytes": round(serial.uploaded_bytes / 1e6, 1),
            "one_at_a_time_s": serial.seconds, "concurrent_s": concurrent.seconds,
            "speedup": round(serial.seconds / concurrent.seconds, 2),
            "republish_s": round(republish_s, 3), "republish_outcome": again.outcome,
            "republish_uploaded_bytes": again.uploaded_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=10.0, help="added per request in the network placement")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work, Azurite(REPO) as azurite:
        bundle = Path(work) / "bundle"
        make_bundle(bundle, args.files)
        results = [measure(bundle, azurite.blob_endpoint(), "loopback", args.concurrency)]
        with LatencyProxy(azurite.host, azurite.port, args.latency_ms / 1000) as proxy:
            endpoint = f"http://{proxy.host}:{proxy.port}/{DEV_ACCOUNT}"
            results.append(measure(bundle, endpoint, f"network-{args.latency_ms:g}ms", args.concurrency))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"publish of a {args.files}-file bundle to Azurite (concurrency {args.concurrency})")
    print(f"{'placement':<16} {'MB':>6} {'one at a time s':>16} {'concurrent s':>13} {'speedup':>8} "
          f"{'re-publish s':>13} {'re-publish bytes':>17}")
    for r in results:
        print(f"{r['placement']:<16} {r['megabytes']:>6} {r['one_at_a_time_s']:>16.2f} {r['concurrent_s']:>13.2f} "
              f"{r['speedup']:>7.1f}x {r['republish_s']:>13.3f} {r['republish_uploaded_bytes']:>17}")
    speedup_ok = results[-1]["speedup"] >= 3
    republish_ok = all(r["republish_uploaded_bytes"] == 0 for r in results)
    print(f"bar (network placement) speedup >= 3x: {'PASS' if speedup_ok else 'FAIL'}; "
          f"re-publish uploads no bytes: {'PASS' if republish_ok else 'FAIL'}")


if __name__ == "__main__":
    main()
