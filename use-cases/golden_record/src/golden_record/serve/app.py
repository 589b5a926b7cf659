"""The HTTP face of :class:`golden_record.serve.lookup.Lookup` (FastAPI).

* ``GET /health``: the model (run id, threshold), the table and its row count, the block index
  (rows, records, passes, when built, fresh or not) and the golden map; 503 when the index is
  missing or was built for other passes (saying ``golden-record index``).
* ``POST /match``: ``{"records": [{field: value, ...}, ...], "top": 5}`` -> per record the
  candidate golden ids, best first, each with its best record's probability, weight, is_match,
  review label and verdict, and per member record the per-comparison level and weight.

Every error is JSON ``{"error": "what went wrong: what to do"}``: 422 for a request that cannot be answered
as sent (unknown field names are named, with the known ones; a value its field's type cannot read;
an id that does not fit the table's id column), 413 for a body over
:data:`~golden_record.serve.lookup.MAX_BODY_BYTES`, 503 when the database, the records' table or
the index is not there, 500 for anything unexpected.
"""
from __future__ import annotations

import json

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from golden_record.errors import GoldenRecordError, WarehouseError
from golden_record.io.redaction import scrub
from golden_record.serve.lookup import MAX_BODY_BYTES, MAX_RECORDS, MAX_TOP, Lookup, LookupInputError

Value = str | int | float | bool | None
_VALUE_TYPES = ("str", "int", "float", "bool")


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Value]] = Field(min_length=1, max_length=MAX_RECORDS,
                                            description="incoming records: field name -> value (raw, as the "
                                                        "warehouse holds it); an id (record_id or the table's id "
                                                        "column) only when the record is in the table")
    top: int = Field(5, ge=1, le=MAX_TOP, description="the most golden ids returned per record")


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body, default=str), status_code=status, media_type="application/json")


def _error(status: int, message: str, hint: str = "") -> Response:
    """``{"error": "what went wrong: what to do"}``, credentials scrubbed."""
    return _json(status, {"error": scrub(f"{message}: {hint}" if hint else message)})


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 before anything reads
    it (by its ``Content-Length``, or, sent in chunks, once the chunks add up to more)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def _refuse(self, send) -> None:
        body = json.dumps({"error": f"request body larger than {self.limit:,} bytes: send the records in "
                                    "several requests"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        if length is not None:          # the server stops at Content-Length: nothing more can come
            return await self.app(scope, receive, send)
        messages, size = [], 0          # chunked: read it all (up to the limit), then hand it on
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                return await self._refuse(send)
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def receive_again():
            return next(replay, None) or await receive()
        return await self.app(scope, receive_again, send)


def create_app(lookup: Lookup) -> FastAPI:
    app = FastAPI(title="golden-record lookup",
                  description=f"Candidate golden ids of incoming records: model of run {lookup.run_id}, "
                              f"table {lookup.config.data.table}.")
    app.state.lookup = lookup
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems: list[str] = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p != "body"]
            if loc and loc[0] == "records" and loc[-1] in _VALUE_TYPES:   # one line per value, not per type tried
                text = f"{'.'.join(loc[:-1])}: a value must be text, a number, true/false or null"
            elif e.get("type") == "json_invalid":
                text = f"the body is not valid JSON ({e.get('ctx', {}).get('error', e.get('msg'))})"
            else:
                text = f"{'.'.join(loc) or 'body'}: {e.get('msg')}"
            if text not in problems:
                problems.append(text)
        return _error(422, "invalid request: " + "; ".join(problems[:10]),
                      'send {"records": [{"first_name": "...", ...}], "top": 5}')

    @app.exception_handler(LookupInputError)
    async def _input(request: Request, exc: LookupInputError) -> Response:
        return _error(422, exc.message, exc.hint)

    @app.exception_handler(WarehouseError)
    async def _warehouse(request: Request, exc: WarehouseError) -> Response:
        return _error(503, exc.message, exc.hint)

    @app.exception_handler(GoldenRecordError)
    async def _expected(request: Request, exc: GoldenRecordError) -> Response:
        return _error(500, exc.message, exc.hint)

    @app.exception_handler(psycopg.Error)
    async def _database(request: Request, exc: psycopg.Error) -> Response:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        status = 503 if isinstance(exc, psycopg.OperationalError) else 500
        return _error(status, f"PostgreSQL: {first}", "check the database (golden-record db-check) and the service log")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return _error(500, f"internal error: {type(exc).__name__}: {exc}", "see the service log")

    @app.get("/health")
    def health() -> Response:
        status, body = lookup.health()
        return _json(status, body)

    @app.post("/match")
    def match(body: MatchRequest) -> Response:
        return _json(200, lookup.match(body.records, body.top))

    return app
