"""The release toolkit's command line: invoke tasks over the toolkit library, as the `parking-release` program
(installed) and the repository's `inv` run them. Task modules stay light: each imports its library inside the
task body, so listing the tasks loads no cloud SDK."""
