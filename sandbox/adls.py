"""How ADLS Gen2 (a storage account with a hierarchical namespace) looks through the Blob API, for what the
sandbox writes as Spark (through ABFS) or Data Factory would: each directory is a zero-length blob with
metadata ``hdi_isfolder=true``, and a file written by append and flush carries no Content-MD5.
See sandbox/RULES.md (storage.hns-directories, storage.no-md5)."""
from __future__ import annotations

import base64

FOLDER = "hdi_isfolder"


def is_directory(blob) -> bool:
    """A directory of a hierarchical-namespace account, as a Blob listing (with metadata) shows it."""
    return (blob.metadata or {}).get(FOLDER) == "true"


def write_file(container, name: str, data: bytes) -> None:
    """A file as ABFS or Data Factory leaves it: a block list, so the service stores no Content-MD5."""
    blob = container.get_blob_client(name)
    block = base64.b64encode(b"0").decode()
    blob.stage_block(block, data)
    blob.commit_block_list([block])


def write_directory(container, name: str) -> None:
    """A directory marker: zero length, no Content-MD5 (an empty block list), ``hdi_isfolder=true``."""
    container.get_blob_client(name).commit_block_list([], metadata={FOLDER: "true"})


def write_parents(container, name: str, known: set[str]) -> None:
    """The directories above ``name`` that a hierarchical namespace creates implicitly (``known``: already there)."""
    parts = name.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        if folder not in known:
            write_directory(container, folder)
            known.add(folder)
