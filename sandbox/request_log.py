"""Every request that reaches the sandbox, counted by service and kind (read or write), so a test or a
benchmark can prove that a dry run or a no-op re-deploy writes nothing.

A write is any request that can change state: PUT, PATCH, DELETE, and POST except the POSTs that
Azure and Databricks define as reads (validate, what-if, activity-run queries, listKeys, name checks). The token
endpoint and the sandbox's own admin API are not part of the cloud and are not counted. What a notebook run
reads and writes in the lake is counted under ``cluster``: Databricks compute made those requests, not the
caller that started the run.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Callable

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_READ_POSTS = re.compile(r"/(validate|whatIf|queryActivityruns|queryPipelineRuns|queryTriggerRuns|listKeys|"
                         r"checkNameAvailability|checkFactoryNameAvailability|validate-storage-credentials)$",
                         re.IGNORECASE)
_UNCOUNTED = re.compile(r"^/(admin/|health$|[^/]+/oauth2/v2\.0/token$)")
_KEEP_WRITES = 500
CLUSTER_USER_AGENT = "sandbox-cluster"


def is_write(method: str, path: str) -> bool:
    return method.upper() not in _READ_METHODS and not (method.upper() == "POST" and _READ_POSTS.search(path))


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._writes: list[str] = []

    def record(self, service: str, method: str, path: str, operation: str | None = None) -> None:
        """``operation``: Blob Storage's ``comp`` (lease, metadata, block, ...), kept with a write's path."""
        if _UNCOUNTED.match(path):
            return
        kind = "write" if is_write(method, path) else "read"
        with self._lock:
            self._counts[(service, kind)] += 1
            # A run's own writes are many (each file Spark writes): counted, not listed.
            if kind == "write" and service != "cluster" and len(self._writes) < _KEEP_WRITES:
                self._writes.append(f"{service} {method} {path}" + (f"?comp={operation}" if operation else ""))

    def snapshot(self) -> dict:
        with self._lock:
            services = sorted({s for s, _ in self._counts})
            return {"reads": sum(n for (_, k), n in self._counts.items() if k == "read"),
                    "writes": sum(n for (_, k), n in self._counts.items() if k == "write"),
                    "by_service": {s: {"reads": self._counts[(s, "read")], "writes": self._counts[(s, "write")]}
                                   for s in services},
                    "write_requests": list(self._writes)}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._writes.clear()


def counted(app: Callable, service: str, log: RequestLog) -> Callable:
    """Wrap a WSGI app so that every request it receives is recorded under ``service``."""
    from urllib.parse import parse_qs

    def wrapper(environ, start_response):
        operation = parse_qs(environ.get("QUERY_STRING", "")).get("comp", [None])[0]
        by_cluster = CLUSTER_USER_AGENT in environ.get("HTTP_USER_AGENT", "")
        log.record("cluster" if by_cluster else service, environ.get("REQUEST_METHOD", "GET"),
                   environ.get("PATH_INFO", "/"), operation)
        return app(environ, start_response)
    return wrapper
