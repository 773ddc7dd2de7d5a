"""The release's environments (qa, staging, prod): their files, and the target they run on."""
