"""The sandbox's public Blob endpoint: a pass-through to Azurite that applies the storage fault settings,
so storage can be made unreliable like the control planes. Azure Storage never answers 429: it
throttles with 503 ServerBusy (and Retry-After), so both fault rates answer that way here, as the
storage clients expect. Requests keep their Shared Key signatures: they sign the path, not the host."""
from __future__ import annotations

import threading
import time
from typing import Callable

import requests
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from sandbox.http import Faults

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
               "proxy-authenticate", "host", "content-length"}


def _storage_error(status: int, code: str, message: str, headers: dict[str, str]) -> Response:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status=status, headers={"x-ms-error-code": code, **headers},
                    content_type="application/xml")


RAW_HEADERS = "sandbox.raw_headers"


class RawHeadersHandler(WSGIRequestHandler):
    """Keeps the request's headers as sent (names with underscores included) for the gateway."""

    def make_environ(self):
        environ = super().make_environ()
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ


class StorageGateway:
    def __init__(self, upstream: Callable[[], str], faults: Callable[[str], Faults]):
        self.upstream, self.faults = upstream, faults
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def __call__(self, environ, start_response):
        request = Request(environ)
        faults = self.faults("storage")
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        injected = faults.draw(f"{request.method} {request.full_path} {request.headers.get('x-ms-lease-action', '')}")
        if injected == 429:
            response = _storage_error(503, "ServerBusy", "Ingress is over the account limit (sandbox fault "
                                      "injection).", {"Retry-After": str(faults.retry_after_s)})
        elif injected == 503:
            response = _storage_error(503, "ServerBusy", "The server is busy (sandbox fault injection).", {})
        else:
            response = self._forward(request)
        return response(environ, start_response)

    def _forward(self, request: Request) -> Response:
        # The client's own header names: werkzeug drops any with an underscore from the WSGI environ, and Blob
        # metadata such as hdi_isfolder (ADLS Gen2's directory marker) is sent as x-ms-meta-hdi_isfolder.
        raw_headers = request.environ.get(RAW_HEADERS) or list(request.headers.items())
        headers = {k: v for k, v in raw_headers if k.lower() not in _HOP_BY_HOP}
        for name, value in headers.items():  # a copy whose source is an account of this sandbox: Azurite copies
            if name.lower() == "x-ms-copy-source" and value.startswith(f"http://{request.host}/"):  # only its own
                headers[name] = self.upstream() + value[len(f"http://{request.host}"):]
        # The raw request URI, byte for byte: the Shared Key signature covers the encoded path.
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        url = f"{self.upstream()}{raw}"
        try:
            answer = self._session().request(request.method, url, headers=headers, data=request.get_data(),
                                             allow_redirects=False, timeout=120)
        except requests.ConnectionError:  # Azurite restarting to add an account: a transient failure
            return _storage_error(503, "ServerBusy", "The storage service is restarting; retry.", {})
        kept = [(k, v) for k, v in answer.raw.headers.items() if k.lower() not in _HOP_BY_HOP]
        return Response(answer.content, status=answer.status_code, headers=kept)
