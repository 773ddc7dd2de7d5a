"""The release toolkit's library: plain functions the invoke tasks call. Never imports invoke,
so a notebook, a test or another tool can use it as it is."""

DISTRIBUTION = "parking-release"


def installed_version() -> str | None:
    """The installed parking-release's version; None for a toolkit run from a clone's sources."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return None
