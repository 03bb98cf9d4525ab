"""`htrbatch serve`: an upload page and an HTTP API over one loaded model."""

from __future__ import annotations

import typer

from htrbatch.cli.app import app, err_console, fail
from htrbatch.cli.options import (
    AlphaOpt,
    BatchOpt,
    BeamOpt,
    BetaOpt,
    DecoderOpt,
    DeviceOpt,
    LmOpt,
    ModelOpt,
    PunctuationOpt,
    SpellOpt,
    decode_options,
    transcribe_options,
)
from htrbatch.errors import HtrError, OptionsError
from htrbatch.pipeline import PRECISIONS, TranscribeOptions
from htrbatch.segment import SegmentOptions
from htrbatch.serve.options import TOKEN_ENV, ServeOptions

_SEG = SegmentOptions()
_SERVE = ServeOptions()


@app.command(
    epilog=(
        "Examples:\n\n"
        "  htrbatch serve                      # http://127.0.0.1:8000/ (API docs at /docs)\n\n"
        "  HTRBATCH_TOKEN=s3cret-token htrbatch serve --host 0.0.0.0 --port 8080\n\n"
        "  curl -F file=@scan.png http://127.0.0.1:8000/api/transcribe"
    )
)
def serve(
    host: str = typer.Option(
        _SERVE.host,
        "--host",
        help="Address to listen on. Anything but loopback needs a token.",
    ),
    port: int = typer.Option(_SERVE.port, "--port", help="TCP port."),
    max_upload_mb: float = typer.Option(
        _SERVE.max_upload_mb, "--max-upload-mb", help="Largest request body (413 above)."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar=TOKEN_ENV,
        help="Clients must send 'Authorization: Bearer <token>' (env: HTRBATCH_TOKEN).",
    ),
    max_queue: int = typer.Option(
        _SERVE.max_queue,
        "--max-queue",
        min=1,
        help="Requests in flight at once; more are refused with 503 and Retry-After.",
    ),
    batch_window_ms: float = typer.Option(
        _SERVE.batch_window_ms,
        "--batch-window-ms",
        min=0,
        help="How long the recogniser waits for lines of other requests to batch with.",
    ),
    client_timeout: float = typer.Option(
        _SERVE.client_timeout_s,
        "--client-timeout",
        help="Seconds an upload may stall before the request gets 408.",
    ),
    model: ModelOpt = TranscribeOptions.model,
    device: DeviceOpt = TranscribeOptions.device,
    batch_size: BatchOpt = TranscribeOptions.batch_size,
    segmenter: str = typer.Option(
        _SEG.method, help="Line splitter: auto|projection|seam|none (none = the image is one line)."
    ),
    decoder: DecoderOpt = decode_options().decoder,
    lm: LmOpt = decode_options().lm,
    beam_width: BeamOpt = decode_options().beam_width,
    alpha: AlphaOpt = decode_options().alpha,
    beta: BetaOpt = decode_options().beta,
    spell: SpellOpt = decode_options().spell,
    punctuation: PunctuationOpt = decode_options().punctuation,
    workers: int = typer.Option(
        TranscribeOptions.workers,
        "--workers",
        min=0,
        help="Processes that read and segment pages (0 = a thread of the server).",
    ),
    precision: str = typer.Option(
        TranscribeOptions.precision, "--precision", help=f"{'|'.join(PRECISIONS)}."
    ),
    threads: int = typer.Option(
        TranscribeOptions.threads,
        "--threads",
        min=0,
        help="Torch threads for the recogniser (0 = the cores the workers leave free; "
        "every core with --segmenter none).",
    ),
) -> None:
    """Serve an upload page (GET /) and an HTTP API (POST /api/transcribe, GET /health, /docs).

    The model loads once; pages are read and segmented in worker processes and the lines of
    concurrent requests share recogniser batches. Listens on 127.0.0.1 unless told otherwise.
    """
    try:
        import uvicorn

        from htrbatch.serve.app import create_app
        from htrbatch.serve.engine import Engine
    except ImportError as exc:
        fail(f"htrbatch serve needs its extra: pip install 'htrbatch[serve]' ({exc})")
    from htrbatch.pipeline import Transcriber

    try:
        serve_options = ServeOptions(
            host=host,
            port=port,
            max_upload_mb=max_upload_mb,
            token=token or None,
            max_queue=max_queue,
            batch_window_ms=batch_window_ms,
            client_timeout_s=client_timeout,
        )
        serve_options.validate()
        options = transcribe_options(
            model=model,
            device=device,
            batch_size=batch_size,
            segmenter=segmenter,
            decode=dict(
                decoder=decoder,
                lm=lm,
                beam_width=beam_width,
                alpha=alpha,
                beta=beta,
                spell=spell,
                punctuation=punctuation,
            ),
            precision=precision,
            threads=threads,
            workers=workers,
        )
        options.segment.validate()
        if segmenter == "xml":
            raise OptionsError(
                "--segmenter xml reads the layout file beside each image, and uploads come "
                "without one: use auto|projection|seam|none (or htrbatch transcribe)"
            )
        err_console.print("loading the model ...", highlight=False)
        transcriber = Transcriber(options)
    except HtrError as exc:
        fail(str(exc))
    engine = Engine(
        transcriber,
        batch_window_s=serve_options.batch_window_ms / 1000,
        max_pixels=serve_options.max_pixels,
        max_pages=serve_options.max_pages,
    )
    web = create_app(engine, serve_options)
    err_console.print(
        f"serving on http://{host}:{port}/  (API docs: /docs; Ctrl-C stops)", highlight=False
    )
    uvicorn.run(web, host=host, port=port, log_level="info", timeout_keep_alive=5)
