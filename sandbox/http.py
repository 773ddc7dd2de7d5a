"""What every sandbox endpoint shares: JSON responses, bearer authentication and fault injection."""
from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from sandbox.auth import TokenAuthority


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = "" if body is None else json.dumps(body)
    return Response(data, status=status, headers=headers or {}, content_type="application/json; charset=utf-8")


class ApiError(Exception):
    """An error answered in the service's own body format (see each service's ``error_body``)."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None,
                 headers: dict[str, str] | None = None, details: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.inner, self.headers = status, code, message, inner, headers or {}
        self.details = details or []  # ARM's inner errors: [{"code", "message"}]


@dataclass
class Faults:
    """Per-service fault injection: a share of requests answered 429 (with Retry-After) or 503, and latency.
    ``match`` (a regular expression) limits the faults to the requests it finds in "METHOD path?query" (Blob
    requests add their lease action: "... renew"), so one kind of call can be made to fail."""

    rate_429: float = 0.0
    rate_503: float = 0.0
    latency_ms: float = 0.0
    retry_after_s: int = 1
    seed: int | None = None
    match: str | None = None
    _random: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._random.seed(self.seed)

    injected: int = 0

    def draw(self, request: str = "") -> int | None:
        if self.match is not None and not re.search(self.match, request):
            return None
        with self._lock:
            roll = self._random.random()
            status = 429 if roll < self.rate_429 else 503 if roll < self.rate_429 + self.rate_503 else None
            self.injected += status is not None
        return status


class Service:
    """A WSGI app over a URL map whose endpoints are methods of the subclass.

    Subclasses set ``name`` (for fault settings), ``url_map``, ``error_body`` and
    ``challenge_headers`` (what a 401 carries).
    """

    name = "service"
    url_map: Map
    api_version_required = False

    def __init__(self, authority: TokenAuthority, faults: Callable[[str], Faults]):
        self.authority, self.faults = authority, faults

    def error_body(self, error: ApiError) -> Any:
        body = {"code": error.code, "message": error.message}
        if error.details:
            body["details"] = error.details
        return {"error": body}

    def challenge_headers(self, request: Request) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/'
                                    f'{self.authority.tenant_id}"'}

    def authenticate(self, request: Request) -> dict:
        header = request.headers.get("Authorization", "")
        claims = self.authority.verify(header[7:]) if header.startswith("Bearer ") else None
        if claims is None:
            raise ApiError(401, "Unauthorized", "Request is missing a valid Bearer token.",
                           headers=self.challenge_headers(request))
        return claims

    def __call__(self, environ, start_response):
        request = Request(environ)
        faults = self.faults(self.name)
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        injected = faults.draw(f"{request.method} {request.full_path}")
        if injected == 429:
            response = json_response(self.error_body(ApiError(429, "TooManyRequests", "Rate limit exceeded "
                                                              "(sandbox fault injection).")), 429,
                                     {"Retry-After": str(faults.retry_after_s)})
        elif injected == 503:
            response = json_response(self.error_body(ApiError(503, "ServiceUnavailable", "The service is "
                                                              "temporarily unavailable (sandbox fault injection).")),
                                     503)
        else:
            response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
            if not getattr(getattr(self, endpoint), "anonymous", False):
                self.authenticate(request)
            return getattr(self, endpoint)(request, **arguments)
        except ApiError as error:
            return json_response(self.error_body(error), error.status, error.headers)
        except HTTPException as error:  # no route, wrong method
            return json_response(self.error_body(ApiError(error.code, error.name.replace(" ", ""),
                                                          error.description)), error.code)


def anonymous(endpoint: Callable) -> Callable:
    """Mark an endpoint as reachable without a token (the token endpoint, health)."""
    endpoint.anonymous = True
    return endpoint
