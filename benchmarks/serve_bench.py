"""`htrbatch serve` under load: requests/s and p50/p95 latency with 1, 4 and 16 concurrent
clients, beside the CLI pipeline's pages/s on the same pages.

    nice python benchmarks/serve_bench.py --pages 32 --json benchmarks/results/serve-bench.json

The pages are the three samples/ scans, repeated to ``--pages``. The CLI figure is
``Transcriber.transcribe_files`` (what ``htrbatch transcribe`` runs, without writing files) after
the model has loaded, taken before and after the server (the load of a shared machine changes).
The server is ``htrbatch serve`` in a subprocess with the same options; each client posts one
page per request and waits for the answer before sending the next. Every level first sends one
request per client as a warm-up (not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from htrbatch.decode import DecodeOptions
from htrbatch.pipeline import FileJob, TranscribeOptions, Transcriber

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_pages_per_s(files: list[Path], decoder: str) -> dict:
    t = Transcriber(TranscribeOptions(decode=DecodeOptions(decoder=decoder)))
    list(t.transcribe_files([FileJob(files[0])]))  # warm-up
    t0 = time.perf_counter()
    results = list(t.transcribe_files([FileJob(f) for f in files]))
    seconds = time.perf_counter() - t0
    assert all(r.ok for r in results)
    return {"pages": len(files), "seconds": round(seconds, 2), "pages_per_s": len(files) / seconds}


def load(url: str, datas: list[tuple[str, bytes]], clients: int) -> dict:
    def post(i: int) -> tuple[int, float]:
        name, data = datas[i % len(datas)]
        t0 = time.perf_counter()
        r = httpx.post(f"{url}/api/transcribe", files={"file": (name, data)}, timeout=600)
        return r.status_code, time.perf_counter() - t0

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, range(clients)))  # warm-up
        t0 = time.perf_counter()
        done = list(pool.map(post, range(len(datas))))
        wall = time.perf_counter() - t0
    codes = [c for c, _ in done]
    lat = np.array([s for c, s in done if c == 200])
    return {
        "clients": clients,
        "requests": len(done),
        "ok": codes.count(200),
        "other_status": sorted({c for c in codes if c != 200}),
        "seconds": round(wall, 2),
        "requests_per_s": codes.count(200) / wall,
        "p50_s": round(float(np.percentile(lat, 50)), 2),
        "p95_s": round(float(np.percentile(lat, 95)), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=32)
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--decoder", default="beam")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    samples = sorted((ROOT / "samples").glob("*.jpg"))
    files = [samples[i % len(samples)] for i in range(args.pages)]
    load_before = os.getloadavg()
    cli = cli_pages_per_s(files, args.decoder)
    print(f"CLI pipeline (before): {cli['pages_per_s']:.2f} pages/s", flush=True)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from htrbatch.cli import main; main()",
            "serve",
            "--port",
            str(port),
        ]
        + ["--decoder", args.decoder],
        stdout=subprocess.DEVNULL,  # uvicorn's access log
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        t0 = time.monotonic()
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                assert server.poll() is None, "the server died"
                assert time.monotonic() - t0 < 180, "no /health within 3 minutes"
                time.sleep(0.5)
        ready_s = time.monotonic() - t0
        datas = [(f.name, f.read_bytes()) for f in files]
        levels = []
        for c in (int(x) for x in args.clients.split(",")):
            res = load(url, datas, c)
            res["vs_cli_before"] = res["requests_per_s"] / cli["pages_per_s"]
            levels.append(res)
            print(
                f"{c:>2} clients: {res['requests_per_s']:.2f} req/s "
                f"({res['vs_cli_before']:.0%} of CLI before), "
                f"p50 {res['p50_s']} s, p95 {res['p95_s']} s, "
                f"{res['ok']}/{res['requests']} ok",
                flush=True,
            )
        stats = httpx.get(f"{url}/health").json()
    finally:
        server.terminate()
        server.wait(30)
    # the load of a shared machine changes: the CLI again, after the server
    cli_after = cli_pages_per_s(files, args.decoder)
    print(f"CLI pipeline (after): {cli_after['pages_per_s']:.2f} pages/s", flush=True)
    mean_cli = (cli["pages_per_s"] + cli_after["pages_per_s"]) / 2
    for res in levels:
        res["vs_cli_mean"] = res["requests_per_s"] / mean_cli
    report = {
        "command": "nice python benchmarks/serve_bench.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "processor": platform.processor() or platform.machine(),
            "load_avg_before": [round(x, 2) for x in load_before],
            "note": "2 cores shared with other jobs running at the same time",
        },
        "options": {
            "decoder": args.decoder,
            "workers": health["workers"],
            "precision": health["precision"],
        },
        "server_ready_s": round(ready_s, 1),
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "cli": cli,
        "cli_after": cli_after,
        "server": levels,
        "recogniser": stats["recogniser"],
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["recogniser"]))


if __name__ == "__main__":
    main()
