"""The release toolkit's library: plain functions the invoke tasks call. Never imports invoke,
so a notebook, a test or another tool can use it as it is."""
