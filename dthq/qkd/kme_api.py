"""The key manager over HTTPS: the REST API of ETSI GS QKD 014 v1.1.1, as a FastAPI app.

Paths, field names, JSON shapes and status codes follow the standard (section 5):
``GET /api/v1/keys/{slave_SAE_ID}/status``, ``GET|POST .../{slave_SAE_ID}/enc_keys``,
``GET|POST .../{master_SAE_ID}/dec_keys``; 400 for a malformed or refused request,
401 for an SAE that may not ask, 503 when no key is available; errors carry
``{"message": ..., "details": [...]}``. The calling SAE is the common name of its TLS
client certificate, read from the ASGI TLS extension that :mod:`dthq.qkd.kme_server`
fills in. The limits in the OpenAPI description are this KME's own (sizes, counts), so
the description says exactly what the server accepts.

Request bodies are bounded before they are read (:class:`BodyLimit`): a Content-Length
above :func:`body_limit` is 413, a POST without one (or a chunked body) 411, a malformed
one 400.
"""

# No ``from __future__ import annotations``: FastAPI reads the route annotations at run
# time, and the limits below are local to make_app.
from typing import Annotated, Any
from uuid import UUID

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dthq.qkd.kme import KeyManager, KeyManagerError
from dthq.qkd.pki import common_name

PREFIX = "/api/v1/keys"
# The largest legitimate body is a dec_keys POST naming max_key_per_request key IDs: 47
# bytes each as compact JSON, about 80 pretty-printed with indent 4. 96 each and 4 KiB for
# the rest leaves room for any formatting (16 KiB at the default 128 keys per request).
BODY_PER_KEY_ID, BODY_BASE = 96, 4096


def body_limit(max_key_per_request: int) -> int:
    """The largest request body (bytes) a KME serving up to that many keys per request takes."""
    return BODY_BASE + BODY_PER_KEY_ID * max_key_per_request


class Status(BaseModel):
    source_KME_ID: str
    target_KME_ID: str
    master_SAE_ID: str
    slave_SAE_ID: str
    key_size: int
    stored_key_count: int
    max_key_count: int
    max_key_per_request: int
    max_key_size: int
    min_key_size: int
    max_SAE_ID_count: int
    simulated: bool = Field(
        True, description="Extension: the keys come from a SIMULATED BB84 link, not real QKD."
    )


class Key(BaseModel):
    key_ID: UUID
    key: str = Field(description="The key, base64-encoded.")


class KeyContainer(BaseModel):
    keys: list[Key]


class KeyID(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key_ID: UUID


class Error(BaseModel):
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


def _error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    body = Error(message=message, details=details or [])
    return JSONResponse(status_code=status, content=body.model_dump())


class BodyLimit:
    """ASGI middleware: refuses a request whose body would be too large, or whose length is
    not declared, from its headers alone, so an oversized body is never read."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                response = _error(*refusal)
                response.headers["Connection"] = "close"  # the unread body ends the connection
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Any) -> tuple[int, str] | None:
        lengths = [v for k, v in scope["headers"] if k == b"content-length"]
        if any(k == b"transfer-encoding" for k, _ in scope["headers"]):
            return 411, "a request body needs a Content-Length: chunked bodies are refused"
        if not lengths:
            if scope["method"] == "POST":
                return 411, "a POST needs a Content-Length"
            return None
        if len(lengths) > 1 or not lengths[0].isdigit():
            return 400, "Content-Length must be one decimal number"
        if int(lengths[0]) > self.limit:
            return (
                413,
                f"a request body of {int(lengths[0])} bytes exceeds the {self.limit}-byte limit",
            )
        return None


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        400: "Bad request format, or a request the KME refuses",
        401: "The calling SAE may not make this request",
        411: "A POST without a Content-Length, or a chunked body",
        413: "A request body above the KME's limit (see the description)",
        503: "No key available: the QKD link is refilling the pool",
    }
    return {code: {"model": Error, "description": meaning[code]} for code in codes}


def make_app(kme: KeyManager) -> FastAPI:
    """The ETSI GS QKD 014 API over ``kme``."""
    app = FastAPI(
        title="DTHQ bench key manager (ETSI GS QKD 014, SIMULATED link)",
        version="1.1.1",
        description=(
            "Keys are delivered by a simulated BB84 link (dthq.qkd), not by QKD hardware. "
            "SAEs authenticate with TLS client certificates; the common name is the SAE ID."
        ),
    )
    limit = body_limit(kme.max_key_per_request)
    app.description += f" Request bodies are at most {limit} bytes, with a Content-Length."
    app.add_middleware(BodyLimit, limit=limit)
    Number = Annotated[int, Field(ge=1, le=kme.max_key_per_request)]
    Size = Annotated[int, Field(ge=kme.min_key_size, le=kme.max_key_size, multiple_of=8)]
    SAE = Annotated[str, Path(min_length=1, max_length=256)]

    class KeyRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        number: Number = 1
        size: Size = kme.key_size
        # This KME serves one slave per key and no extensions: say so in the schema.
        additional_slave_SAE_IDs: list[str] = Field(default_factory=list, max_length=0)
        extension_mandatory: list[dict[str, Any]] = Field(default_factory=list, max_length=0)
        extension_optional: list[dict[str, Any]] = Field(default_factory=list)

    class KeyIDs(BaseModel):
        model_config = ConfigDict(extra="forbid")
        key_IDs: list[KeyID] = Field(min_length=1, max_length=kme.max_key_per_request)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": [str(part) for part in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid"}
        return _error(400, f"bad request format: {'.'.join(first['loc'])}: {first['msg']}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, str(exc.detail))
        if exc.status_code == 405:
            # GET and POST of one path are two routes; Starlette's Allow names only the
            # first, so list every method any route serves at this path.
            path = request.url.path
            allowed = sorted(
                {
                    method
                    for route in app.routes
                    if isinstance(route, APIRoute) and route.path_regex.fullmatch(path)
                    for method in route.methods
                }
            )
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.exception_handler(KeyManagerError)
    async def refused(request: Request, exc: KeyManagerError) -> JSONResponse:
        return _error(exc.status, str(exc))

    def caller(request: Request) -> str:
        tls = request.scope.get("extensions", {}).get("tls") or {}
        chain = tls.get("client_cert_chain") or []
        name = common_name(chain[0]) if chain else None
        if not name:
            raise KeyManagerError("no client certificate naming the calling SAE", 401)
        return name

    @app.get(
        PREFIX + "/{slave_SAE_ID}/status",
        response_model=Status,
        responses=_responses(400, 401),
        summary="Status of the key stream to a slave SAE",
    )
    def get_status(slave_SAE_ID: SAE, request: Request) -> dict[str, Any]:
        return kme.status(slave_SAE_ID, caller=caller(request))

    def enc_keys(slave: str, number: int, size: int, request: Request) -> dict[str, Any]:
        return kme.enc_keys(slave, number, size, caller=caller(request))

    @app.get(
        PREFIX + "/{slave_SAE_ID}/enc_keys",
        response_model=KeyContainer,
        responses=_responses(400, 401, 503),
        summary="New keys for the master SAE (GET form)",
    )
    def get_enc_keys(
        slave_SAE_ID: SAE,
        request: Request,
        number: Annotated[int, Query(ge=1, le=kme.max_key_per_request)] = 1,
        size: Annotated[
            int, Query(ge=kme.min_key_size, le=kme.max_key_size, multiple_of=8)
        ] = kme.key_size,
    ) -> dict[str, Any]:
        return enc_keys(slave_SAE_ID, number, size, request)

    @app.post(
        PREFIX + "/{slave_SAE_ID}/enc_keys",
        response_model=KeyContainer,
        responses=_responses(400, 401, 411, 413, 503),
        summary="New keys for the master SAE (POST form)",
    )
    def post_enc_keys(slave_SAE_ID: SAE, body: KeyRequest, request: Request) -> dict[str, Any]:
        return enc_keys(slave_SAE_ID, body.number, body.size, request)

    @app.get(
        PREFIX + "/{master_SAE_ID}/dec_keys",
        response_model=KeyContainer,
        responses=_responses(400, 401),
        summary="The slave SAE's copy of one key, by ID (GET form)",
    )
    def get_dec_keys(
        master_SAE_ID: SAE, key_ID: Annotated[UUID, Query()], request: Request
    ) -> dict[str, Any]:
        return kme.dec_keys(master_SAE_ID, [str(key_ID)], caller=caller(request))

    @app.post(
        PREFIX + "/{master_SAE_ID}/dec_keys",
        response_model=KeyContainer,
        responses=_responses(400, 401, 411, 413),
        summary="The slave SAE's copies of keys, by ID (POST form)",
    )
    def post_dec_keys(master_SAE_ID: SAE, body: KeyIDs, request: Request) -> dict[str, Any]:
        ids = [str(k.key_ID) for k in body.key_IDs]
        return kme.dec_keys(master_SAE_ID, ids, caller=caller(request))

    app.openapi = lambda: _describe(app)  # type: ignore[method-assign]
    return app


def _describe(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description, minus its 422 answers (validation errors are 400 here, as
    the standard says) and plus the mutual-TLS security scheme."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for item in spec["paths"].values():
            for operation in item.values():
                operation["responses"].pop("422", None)
        schemas = spec.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        spec.setdefault("components", {})["securitySchemes"] = {
            "sae_certificate": {
                "type": "mutualTLS",
                "description": "A client certificate whose common name is the SAE ID.",
            }
        }
        spec["security"] = [{"sae_certificate": []}]
        app.openapi_schema = spec
    return app.openapi_schema
