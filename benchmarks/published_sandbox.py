"""What the release benchmarks start from: a sandbox of their own (a temporary home) with this working tree built
and published, signed, to a temporary local store."""
from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "release-toolkit" / "src")]

from sandbox.lifecycle import down, up  # noqa: E402
from tests.integration.release_helpers import publish_signed  # noqa: E402
from toolkit.artifacts.config import load_store_config  # noqa: E402
from toolkit.artifacts.stores import open_store  # noqa: E402
from toolkit.build.application import build_application  # noqa: E402


@contextmanager
def published_sandbox(prefix: str) -> Iterator[tuple[Path, tuple, object, Path]]:
    """(sandbox home, published (manifest, fetched bundle, store configuration), the store, a scratch folder); the
    sandbox is stopped and everything removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        folder = Path(folder)
        home = folder / "sandbox"
        up(home, REPO)
        try:
            build = build_application(REPO, folder / "dist")
            config = folder / "store.toml"
            config.write_text(f'kind = "local"\npath = "{folder / "store"}"\n')
            store = open_store(load_store_config(config), REPO)
            manifest, bundle = publish_signed(home, build.bundle, store, folder / "fetched")
            yield home, (manifest, bundle, config), store, folder
        finally:
            down(home)
