"""The web application: the upload page, ``POST /api/transcribe``, ``GET /health``.

:func:`create_app` builds a FastAPI app around an :class:`~htrbatch.serve.engine.Engine` (one
loaded model for every request). A pure ASGI guard in front of the routes does what must happen
before an upload is read: the bearer token, the bounded queue (503 with Retry-After when full),
the declared size (413 without reading the body), then counts the bytes as they arrive (413 as
soon as they pass the limit) and times out a client that stops sending (408).
"""

from __future__ import annotations

import hmac
import math
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import anyio
from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from htrbatch import __version__
from htrbatch.errors import InputError
from htrbatch.outputs import OutputName
from htrbatch.serve.engine import Engine, Upload, sniff
from htrbatch.serve.options import ServeOptions

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Reachable without the token: the page itself and the API description (no data in them).
PUBLIC_PATHS = frozenset({"/", "/favicon.ico", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
PUBLIC_PREFIXES = ("/static/",)
CHUNK = 1 << 20


def static_dir() -> Path:
    return Path(str(resources.files("htrbatch.serve") / "static"))


def display_name(filename: str | None, index: int) -> str:
    """The client's file name for messages and results: its last path part, control characters
    removed. It is never used as a path."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()[:200]
    return name or f"upload-{index + 1}"


def download_name(name: str, page: int | None) -> str:
    """The stem a browser download of one page gets, by :mod:`htrbatch.outputs`' rule
    (``letter``; pages of a multi-page file ``book-p2``)."""
    stem = PurePosixPath(name).stem or "page"
    return OutputName(Path(name), PurePosixPath(stem)).page_key(page).name


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _BodyLimit:
    """``receive`` for one request: 413 once the body passes ``limit`` bytes, 408 when the client
    sends nothing for ``timeout`` seconds."""

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self.receive = receive
        self.limit = limit
        self.timeout = timeout
        self.size = 0
        self.done = False

    async def __call__(self) -> Message:
        if self.done:  # the body is in; later calls wait for the disconnect
            return await self.receive()
        with anyio.move_on_after(self.timeout) as scope:
            message = await self.receive()
        if scope.cancelled_caught:
            raise HTTPException(
                408, f"the upload stalled for {self.timeout:g} s", {"connection": "close"}
            )
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                raise HTTPException(413, _too_big(self.limit), {"connection": "close"})
            self.done = not message.get("more_body", False)
        return message


def _too_big(limit: int) -> str:
    return f"upload over the limit of {limit / 1048576:g} MB"


@dataclass
class _Counters:
    in_flight: int = 0
    refused: int = 0
    served: int = 0
    seconds: float = 0.0  # summed over served requests

    def retry_after(self) -> int:
        """Seconds after which a refused client may find room: by Little's law, requests finish
        every ``mean latency / in flight`` seconds; wait for about two of them."""
        mean = self.seconds / self.served if self.served else 2.0
        return max(1, math.ceil(2 * mean / max(1, self.in_flight)))


class _Guard:
    """Token, queue bound, size limit and client timeout, before the app reads anything."""

    def __init__(self, app: Any, options: ServeOptions, counters: _Counters) -> None:
        self.app = app
        self.options = options
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = self.options.token
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if token and not public and not _authorised(headers.get("authorization", ""), token):
            response = _error(
                401,
                "missing or wrong token: send 'Authorization: Bearer <token>'",
                {"www-authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        if path != "/api/transcribe" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        limit = self.options.max_upload_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            message = _too_big(limit) if status == 413 else "bad Content-Length"
            await _error(status, message, {"connection": "close"})(scope, receive, send)
            return
        counters = self.counters
        if counters.in_flight >= self.options.max_queue:
            counters.refused += 1
            wait = counters.retry_after()
            response = _error(
                503,
                f"busy: {counters.in_flight} requests in flight; retry in {wait} s",
                {"retry-after": str(wait)},
            )
            await response(scope, receive, send)
            return
        counters.in_flight += 1
        t0 = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            body = _BodyLimit(receive, limit, self.options.client_timeout_s)
            await self.app(scope, body, send_status)
        finally:
            counters.in_flight -= 1
            if status == 200:
                counters.served += 1
                counters.seconds += time.perf_counter() - t0


def _authorised(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    given = given.strip().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given, token.encode())


async def _store(upload: UploadFile, dest: Path, name: str) -> None:
    """Copy one upload into the request's temporary folder, after checking its first bytes."""
    head = await upload.read(16)
    if not head:
        raise InputError(name, "file is empty")
    if sniff(head) is None:
        raise InputError(name, "not a PNG, JPEG or TIFF image or a PDF (judged by its content)")
    with dest.open("wb") as fh:
        fh.write(head)
        while chunk := await upload.read(CHUNK):
            fh.write(chunk)


def create_app(engine: Engine, options: ServeOptions = ServeOptions()) -> FastAPI:
    """The FastAPI application serving ``engine`` (started and stopped with the app)."""
    counters = _Counters()
    started = time.time()

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        engine.start()
        try:
            yield
        finally:
            engine.close()

    app = FastAPI(
        title="htrbatch",
        version=__version__,
        summary="Read handwritten page scans: text, line boxes and confidences.",
        lifespan=lifespan,
    )
    bearer = HTTPBearer(auto_error=False, description="Needed when the server has a token.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        ]
        return _error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(InputError)
    async def bad_input(_: Request, exc: InputError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(Exception)
    async def failed(_: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"{exc.__class__.__name__}: {exc}")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(static_dir() / "index.html", headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    transcriber = engine.transcriber
    recognizer = transcriber.recognizer
    opts = transcriber.options

    @app.get("/health", dependencies=[Depends(bearer)])
    async def health() -> dict[str, Any]:
        """Whether the server is up, what it runs and how busy it is."""
        stats = engine.batcher.stats
        return {
            "status": "ok",
            "version": __version__,
            "model": opts.model,
            "device": str(recognizer.device),
            "precision": recognizer.precision,
            "decoder": opts.decode.decoder,
            "lm": opts.decode.lm if opts.decode.decoder == "beam" else None,
            "segmenter": opts.segment.method,
            "workers": opts.workers,
            "in_flight": counters.in_flight,
            "max_queue": options.max_queue,
            "max_upload_mb": options.max_upload_mb,
            "token_required": bool(options.token),
            "requests_served": counters.served,
            "requests_refused": counters.refused,
            "pages": engine.pages_done,
            "recogniser": {
                "batches": stats.batches,
                "requests": stats.jobs,
                "lines": stats.lines,
                "seconds": round(stats.seconds, 3),
            },
            "uptime_s": round(time.time() - started, 1),
        }

    @app.post(
        "/api/transcribe",
        dependencies=[Depends(bearer)],
        responses={
            400: {"description": 'Not a usable image: `{"error": "..."}`'},
            401: {"description": "Missing or wrong bearer token"},
            408: {"description": "The client stopped sending"},
            413: {"description": "Upload over the size limit"},
            503: {"description": "Queue full; see Retry-After"},
        },
    )
    async def api_transcribe(
        file: list[UploadFile] = File(
            ..., description="Page images (PNG, JPEG, TIFF incl. multi-page) or PDFs; repeatable."
        ),
        preview: bool = Query(
            False,
            description="Also return `views`: per page a download name and a JPEG picture "
            "of the page as read (the web page uses them).",
        ),
    ) -> dict[str, Any]:
        """Transcribe uploaded pages: `{"pages": [...]}`, each page's JSON exactly as
        `htrbatch transcribe` writes it (its `source` is the uploaded file's name)."""
        if len(file) > options.max_files:
            raise HTTPException(400, f"{len(file)} files: at most {options.max_files} a request")
        with tempfile.TemporaryDirectory(prefix="htrbatch-serve-") as tmp:
            uploads = []
            for i, f in enumerate(file):
                name = display_name(f.filename, i)
                dest = Path(tmp) / f"upload-{i}"  # no client-supplied name touches the disk
                await _store(f, dest, name)
                await f.close()
                uploads.append(Upload(name, dest))
            done = await engine.transcribe(uploads, previews=preview)
        out: dict[str, Any] = {"pages": [p.to_dict() for d in done for p in d.pages]}
        if preview:
            out["views"] = [
                {"name": download_name(d.upload.name, p.page), "image": img}
                for d in done
                for p, img in zip(d.pages, d.previews or [""] * len(d.pages))
            ]
        return out

    app.add_middleware(_Guard, options=options, counters=counters)
    app.state.counters = counters
    return app
