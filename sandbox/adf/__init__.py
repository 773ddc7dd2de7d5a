"""Azure Data Factory (REST API 2018-06-01) under the sandbox's ARM endpoint, with pipeline runs that execute."""
