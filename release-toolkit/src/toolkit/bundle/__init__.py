"""The release bundle: every file a release stage deploys, plus a manifest of their digests."""
