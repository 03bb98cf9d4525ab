"""`htrbatch serve`: the HTTP API through httpx / Starlette's TestClient, the engine's shared
batches, and the command's option checks."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("multipart")

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from htrbatch.cli import app as cli  # noqa: E402
from htrbatch.decode import DecodeOptions, DecodeResult  # noqa: E402
from htrbatch.errors import OptionsError  # noqa: E402
from htrbatch.pipeline import TranscribeOptions, Transcriber  # noqa: E402
from htrbatch.serve.app import create_app, display_name, download_name  # noqa: E402
from htrbatch.serve.engine import Engine, LineBatcher, sniff  # noqa: E402
from htrbatch.serve.options import ServeOptions  # noqa: E402
from tests.conftest import draw_lines  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "d05-335z-scan.jpg"
TOKEN = "s3cret-token-for-tests"


def png_bytes(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def transcriber(tiny_checkpoint: Path) -> Transcriber:
    options = TranscribeOptions(
        model=str(tiny_checkpoint),
        device="cpu",
        decode=DecodeOptions(decoder="greedy"),
        workers=0,
        threads=1,
    )
    return Transcriber(options)


def make_client(transcriber: Transcriber, **options: object) -> TestClient:
    engine = Engine(transcriber, batch_window_s=0.01, max_pixels=int(options.pop("px", 10**8)))
    return TestClient(create_app(engine, ServeOptions(**options)))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client(transcriber: Transcriber):
    with make_client(transcriber) as c:
        yield c


def test_good_image_gives_the_page_json_transcribe_writes(
    client: TestClient, transcriber: Transcriber, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    page = draw_lines(["first line here", "and a second one"], seed=3)
    path = tmp_path / "in" / "letter.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), page)
    r = client.post("/api/transcribe", files={"file": ("letter.png", path.read_bytes())})
    assert r.status_code == 200, r.text
    pages = r.json()["pages"]
    assert len(pages) == 1 and pages[0]["source"] == "letter.png"
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        ["transcribe", str(path), "--out", str(out), "--model", str(tiny_checkpoint)]
        + ["--decoder", "greedy", "--device", "cpu", "--workers", "0"],
    )
    assert res.exit_code == 0, res.output
    written = json.loads((out / "letter.json").read_text("utf-8"))
    assert len(written["lines"]) == 2
    assert {**pages[0], "source": written["source"]} == written


def test_several_files_and_previews(client: TestClient, tmp_path: Path) -> None:
    frames = [Image.fromarray(draw_lines([t], seed=i)) for i, t in enumerate(["one", "two"])]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    files = [
        ("file", ("book.tif", buf.getvalue(), "application/octet-stream")),
        ("file", ("../../etc/note.png", png_bytes(draw_lines(["x"])), "text/plain")),
    ]
    r = client.post("/api/transcribe?preview=true", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(p["source"], p.get("page")) for p in body["pages"]] == [
        ("book.tif", 1),
        ("book.tif", 2),
        ("note.png", None),
    ]
    assert [v["name"] for v in body["views"]] == ["book-p1", "book-p2", "note"]
    assert all(v["image"].startswith("data:image/jpeg;base64,") for v in body["views"])


def test_non_images_get_a_400_json_error(client: TestClient) -> None:
    r = client.post(
        "/api/transcribe", files={"file": ("scan.png", b"just some text\n", "image/png")}
    )
    assert r.status_code == 400
    assert "scan.png" in r.json()["error"] and "PNG, JPEG or TIFF" in r.json()["error"]
    # the right first bytes, then garbage: sniffing passes, decoding refuses
    r = client.post("/api/transcribe", files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)})
    assert r.status_code == 400 and r.json()["error"].startswith("a.png: ")
    r = client.post("/api/transcribe", files={"file": ("e.jpg", b"")})
    assert r.status_code == 400 and "empty" in r.json()["error"]
    r = client.post("/api/transcribe", data={"other": "field"})
    assert r.status_code == 422 and "file" in r.json()["error"]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (its data would inflate to that)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bombs_are_refused_from_the_header(transcriber: Transcriber) -> None:
    with make_client(transcriber, px=50_000) as c:
        r = c.post("/api/transcribe", files={"file": ("bomb.png", _png_header_only(40000, 40000))})
        assert r.status_code == 400 and "over the limit of 50,000 pixels" in r.json()["error"]
        small = png_bytes(draw_lines(["fits"], width=200, line_h=40))  # 200 x 80
        assert c.post("/api/transcribe", files={"file": ("ok.png", small)}).status_code == 200


def test_uploads_over_the_limit_get_413(transcriber: Transcriber) -> None:
    with make_client(transcriber, max_upload_mb=0.05) as c:  # 52,428 bytes
        big = b"\x89PNG\r\n\x1a\n" + bytes(60_000)
        r = c.post("/api/transcribe", files={"file": ("big.png", big)})
        assert r.status_code == 413 and "limit" in r.json()["error"]

        def chunks():  # no Content-Length: counted as it arrives
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n'
            for _ in range(10):
                yield bytes(10_000)
            yield b"\r\n--b--\r\n"

        headers = {"content-type": "multipart/form-data; boundary=b"}
        r = c.post("/api/transcribe", content=chunks(), headers=headers)
        assert r.status_code == 413 and "limit" in r.json()["error"]


def test_token(transcriber: Transcriber) -> None:
    img = png_bytes(draw_lines(["token"]))
    with make_client(transcriber, token=TOKEN) as c:
        for headers in ({}, {"authorization": "Bearer wrong-token"}, {"authorization": TOKEN}):
            r = c.post("/api/transcribe", files={"file": ("a.png", img)}, headers=headers)
            assert r.status_code == 401 and "token" in r.json()["error"]
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/health").status_code == 401
        ok = {"authorization": f"Bearer {TOKEN}"}
        assert c.get("/health", headers=ok).json()["token_required"] is True
        r = c.post("/api/transcribe", files={"file": ("a.png", img)}, headers=ok)
        assert r.status_code == 200
        assert c.get("/").status_code == 200  # the page itself asks for the token


def test_page_health_and_static_files(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and '<input id="files" type="file"' in r.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert "http" not in client.get("/static/app.js").text.replace("http://www.w3.org", "")
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["decoder"] == "greedy" and h["workers"] == 0
    assert "/api/transcribe" in client.get("/openapi.json").json()["paths"]


def test_uploads_are_deleted_and_names_never_become_paths(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    img = png_bytes(draw_lines(["keep nothing"]))
    for name in ("../../x.png", "/abs/y.png", "c:\\dir\\z.png"):
        r = client.post("/api/transcribe", files={"file": (name, img)})
        assert r.status_code == 200
    assert list(scratch.iterdir()) == []
    assert display_name("../../x.png", 0) == "x.png" and display_name("c:\\d\\z.png", 0) == "z.png"
    assert display_name("", 2) == "upload-3"
    assert download_name("book.tif", 2) == "book-p2" and download_name("a.b.png", None) == "a.b"


def test_full_queue_gets_503_with_retry_after(transcriber: Transcriber) -> None:
    engine = Engine(transcriber)
    gate = asyncio.Event()
    calls = 0
    real = engine.transcribe

    async def held(uploads, previews=False):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        await gate.wait()
        return await real(uploads, previews)

    engine.transcribe = held  # type: ignore[method-assign]
    web = create_app(engine, ServeOptions(max_queue=2))
    img = png_bytes(draw_lines(["queued"]))

    async def scenario() -> list[httpx.Response]:
        engine.start()
        try:
            transport = httpx.ASGITransport(app=web)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:

                def post():  # type: ignore[no-untyped-def]
                    return c.post("/api/transcribe", files={"file": ("q.png", img)})

                first = [asyncio.create_task(post()) for _ in range(2)]
                while calls < 2:
                    await asyncio.sleep(0.01)
                refused = [await post() for _ in range(2)]
                health = await c.get("/health")
                assert health.json()["in_flight"] == 2
                gate.set()
                return [*(await asyncio.gather(*first)), *refused]
        finally:
            engine.close()

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200, 200, 503, 503]
    assert int(responses[2].headers["retry-after"]) >= 1
    assert "busy" in responses[2].json()["error"]


def test_concurrent_requests_get_their_own_results(client: TestClient) -> None:
    images = [png_bytes(draw_lines(["line"] * (i % 3 + 1), seed=i)) for i in range(6)]
    alone = [
        client.post("/api/transcribe", files={"file": (f"{i}.png", b)})
        for i, b in enumerate(images)
    ]

    def post(i: int) -> httpx.Response:
        return client.post("/api/transcribe", files={"file": (f"{i}.png", images[i])})

    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(post, range(6)))
    assert all(r.status_code == 200 for r in together)
    assert [r.json() for r in together] == [r.json() for r in alone]
    assert [len(r.json()["pages"][0]["lines"]) for r in together] == [1, 2, 3, 1, 2, 3]
    assert client.get("/health").json()["status"] == "ok"


class _FakeRecognizer:
    """Records the line groups it is given; 'decodes' each line to its width."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def logprobs_prepared(self, lines):  # type: ignore[no-untyped-def]
        self.calls.append(len(lines))
        return lines

    def decode(self, lines):  # type: ignore[no-untyped-def]
        return [DecodeResult(str(x.shape[1]), 1.0) for x in lines]


def test_batcher_shares_one_recogniser_run_between_requests() -> None:
    rec = _FakeRecognizer()
    batcher = LineBatcher(rec, window_s=0.05, max_lines=100)  # type: ignore[arg-type]
    a = batcher.submit([np.zeros((4, w)) for w in (3, 5)])
    b = batcher.submit([np.zeros((4, 7))])
    batcher.start()  # both are queued already: one run
    assert [d.text for d in a.result(5)] == ["3", "5"]
    assert [d.text for d in b.result(5)] == ["7"]
    assert rec.calls == [3]
    assert (batcher.stats.batches, batcher.stats.jobs, batcher.stats.lines) == (1, 2, 3)
    c = batcher.submit([np.zeros((4, 2))] * 150)  # over max_lines alone: a run of its own
    assert len(c.result(5)) == 150 and rec.calls == [3, 150]
    batcher.close()


def test_a_stalled_upload_gets_408(transcriber: Transcriber) -> None:
    web = create_app(Engine(transcriber), ServeOptions(client_timeout_s=0.2))
    sent: list[dict] = []
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.png"\r\n\r\n'
    messages = [{"type": "http.request", "body": head, "more_body": True}]

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(30)  # the client stops sending
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/transcribe",
        "raw_path": b"/api/transcribe",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(asyncio.wait_for(web(scope, receive, send), 10))
    assert sent[0]["status"] == 408
    assert "stalled" in json.loads(sent[1]["body"])["error"]


def test_options_and_command_refuse_an_open_host_without_token() -> None:
    with pytest.raises(OptionsError, match="needs a token"):
        ServeOptions(host="0.0.0.0").validate()
    ServeOptions(host="0.0.0.0", token=TOKEN).validate()
    ServeOptions(host="::1").validate()
    r = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"], env={"HTRBATCH_TOKEN": ""})
    assert r.exit_code == 2 and "needs a token" in r.output
    r = CliRunner().invoke(cli, ["serve", "--help"])
    assert r.exit_code == 0 and "Examples" in r.output


def test_sniff_judges_content_not_names() -> None:
    assert sniff(b"\x89PNG\r\n\x1a\nxxxx") == "PNG"
    assert sniff(b"\xff\xd8\xff\xe0") == "JPEG"
    assert sniff(b"II*\x00") == "TIFF" and sniff(b"MM\x00*") == "TIFF"
    assert sniff(b"GIF89a") is None and sniff(b"<html>") is None


@pytest.mark.slow
def test_sample_gives_the_same_text_and_lines_as_transcribe(tmp_path: Path) -> None:
    """The shipped model (greedy) on a sample: the API's page is the file transcribe writes."""
    options = TranscribeOptions(device="cpu", decode=DecodeOptions(decoder="greedy"), workers=1)
    with TestClient(create_app(Engine(Transcriber(options)))) as c:
        r = c.post("/api/transcribe", files={"file": (SAMPLE.name, SAMPLE.read_bytes())})
    assert r.status_code == 200, r.text
    page = r.json()["pages"][0]
    res = CliRunner().invoke(
        cli,
        ["transcribe", str(SAMPLE), "--out", str(tmp_path), "--decoder", "greedy"]
        + ["--device", "cpu", "--workers", "1"],
    )
    assert res.exit_code == 0, res.output
    (out,) = tmp_path.rglob(f"{SAMPLE.stem}.json")  # mirrors the sample's path below the cwd
    written = json.loads(out.read_text("utf-8"))
    assert len(page["lines"]) == len(written["lines"]) >= 5
    assert page["text"] == written["text"] and "Laud" in page["text"]
    assert {**page, "source": written["source"]} == written


def test_command_loads_the_model_once_and_runs_uvicorn(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict = {}

    def fake_run(app, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    args = ["serve", "--model", str(tiny_checkpoint), "--decoder", "greedy", "--workers", "0"]
    r = CliRunner().invoke(cli, [*args, "--port", "8123", "--max-upload-mb", "1"])
    assert r.exit_code == 0, r.output
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    with TestClient(seen["app"]) as c:
        h = c.get("/health").json()
        assert h["decoder"] == "greedy" and h["max_upload_mb"] == 1.0
        big = b"\x89PNG\r\n\x1a\n" + bytes(1_100_000)
        assert c.post("/api/transcribe", files={"file": ("b.png", big)}).status_code == 413
    r = CliRunner().invoke(cli, [*args, "--model", "/no/such.pt"])
    assert r.exit_code == 2 and "/no/such.pt" in r.output


def test_a_declared_size_over_the_limit_is_refused_unread(transcriber: Transcriber) -> None:
    web = create_app(Engine(transcriber), ServeOptions(max_upload_mb=1))
    sent: list[dict] = []
    reads = 0

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/transcribe",
        "raw_path": b"/api/transcribe",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", b"62914560")],  # 60 MB
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(web(scope, receive, send))
    assert sent[0]["status"] == 413 and reads == 0


def _dies_on_marker(path, *args):  # type: ignore[no-untyped-def]
    import os

    from htrbatch.serve import engine

    if b"KILL-THE-WORKER" in Path(path).read_bytes():
        os._exit(1)  # as a crash in native code would
    return engine._real_prepare_upload(path, *args)


def test_a_dying_page_worker_fails_that_upload_and_the_server_goes_on(
    transcriber: Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    from htrbatch.serve import engine as engine_module

    # the worker processes are forked with this module as patched here
    monkeypatch.setattr(engine_module, "_real_prepare_upload", engine_module.prepare_upload, False)
    monkeypatch.setattr(engine_module, "prepare_upload", _dies_on_marker)
    engine = Engine(transcriber)
    engine.pool.workers = 1
    good = png_bytes(draw_lines(["still here"]))
    with TestClient(create_app(engine)) as c:
        r = c.post("/api/transcribe", files={"file": ("k.png", good + b"KILL-THE-WORKER")})
        assert r.status_code == 400 and "worker process died" in r.json()["error"]
        assert "k.png" in r.json()["error"]
        r = c.post("/api/transcribe", files={"file": ("ok.png", good)})
        assert r.status_code == 200 and len(r.json()["pages"][0]["lines"]) == 1


def test_a_pdf_upload_gives_one_page_result_per_pdf_page(client: TestClient) -> None:
    from PIL import Image

    pages = [Image.fromarray(draw_lines([t], seed=s)) for s, t in ((1, "one page"), (2, "two"))]
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", save_all=True, append_images=pages[1:], resolution=100)
    r = client.post("/api/transcribe", files={"file": ("scan.bin", buf.getvalue())})
    assert r.status_code == 200, r.text
    got = r.json()["pages"]
    assert [p["page"] for p in got] == [1, 2] and all(p["source"] == "scan.bin" for p in got)
    assert all(p["lines"] for p in got)
    broken = client.post("/api/transcribe", files={"file": ("x.pdf", b"%PDF-1.4\nnonsense")})
    assert broken.status_code == 400 and "error" in broken.json()
