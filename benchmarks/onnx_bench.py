"""Is an ONNX Runtime path faster than torch for the recogniser on this CPU? (issue 7)

Exports the shipped CRNN to ONNX and times it against the torch path htrbatch uses (width-sorted
batches of 32, bf16 autocast where the CPU has it, fp32 otherwise) on the same prepared lines:

    python benchmarks/onnx_bench.py --lines work/val --n 600 --out benchmarks/results/onnx.json

Needs ``onnx onnxscript onnxruntime`` beside torch; they pull numpy 2, which pyctcdecode 0.5
refuses, so run it from a separate virtual environment (torch + opencv-python-headless +
onnxruntime, ``PYTHONPATH=.``), not from htrbatch's own.

The exported graph has no packed sequences (the exporter cannot trace them), so ONNX runs one
line per call: with batch 1 there is no padding, and the unpacked BLSTM equals the packed one
(the max difference of the log-probs is reported). Padded ONNX batches would change the backward
LSTM's results, so they are timed too but flagged as not equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from htrbatch.model import CRNN, collate, load_checkpoint, prepare_line

REPO = Path(__file__).resolve().parents[1]


class Unpacked(nn.Module):
    """CRNN.forward without pack_padded_sequence: (B, 1, H, W) -> log-probs (T, B, C)."""

    def __init__(self, model: CRNN) -> None:
        super().__init__()
        self.m = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.m.conv(x)  # (B, C', H', T)
        b, c, h, t = f.shape
        # One feature vector per horizontal position, as in CRNN.forward.
        f = f.permute(3, 0, 1, 2).reshape(t, b, c * h)  # (T, B, C'*H')
        out, _ = self.m.rnn(self.m.proj(f))
        return self.m.head(out).log_softmax(-1)


def import_seconds(module: str) -> float:
    """Wall time of a fresh interpreter importing ``module`` (best of 3)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        best = min(best, time.perf_counter() - t)
    return round(best, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(REPO / "models" / "htrbatch-crnn.pt"))
    ap.add_argument("--lines", required=True, help="folder of line images with .gt.txt")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--onnx", default="/tmp/htrbatch-crnn.onnx")
    ap.add_argument("--out")
    args = ap.parse_args()

    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    loaded = load_checkpoint(args.model)
    model = loaded.model.eval()
    h = loaded.config.height
    files = sorted(p for p in Path(args.lines).iterdir() if p.suffix == ".png")[: args.n]
    prepared = [prepare_line(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), h) for p in files]

    wrapper = Unpacked(model).eval()
    example = torch.from_numpy(prepared[0][None, None])
    t = time.perf_counter()
    torch.onnx.export(
        wrapper,
        (example,),
        args.onnx,
        input_names=["x"],
        output_names=["logprobs"],
        dynamic_axes={"x": {0: "batch", 3: "width"}, "logprobs": {0: "frames", 1: "batch"}},
        dynamo=False,
    )
    export_s = time.perf_counter() - t

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])

    # --- equivalence: ONNX per line vs the packed torch model (fp32) on the first 50 lines
    max_diff = 0.0
    with torch.inference_mode():
        for p in prepared[:50]:
            x, widths = collate([p])
            ref, lengths = model(x, widths)
            got = sess.run(None, {"x": x.numpy()})[0]
            n = int(lengths[0])
            max_diff = max(max_diff, float(np.abs(ref[:n, 0].numpy() - got[:n, 0]).max()))

    # --- timing (each: one warm-up pass over 50 lines, then all lines)
    def onnx_per_line() -> None:
        for p in prepared:
            sess.run(None, {"x": collate([p])[0].numpy()})

    order = np.argsort([p.shape[1] for p in prepared], kind="stable")

    def onnx_batched(bs: int = 32) -> None:
        for s in range(0, len(order), bs):
            x, _ = collate([prepared[i] for i in order[s : s + bs]], multiple=32)
            sess.run(None, {"x": x.numpy()})

    def torch_batched(dtype: torch.dtype | None, bs: int = 32) -> None:
        with torch.inference_mode():
            for s in range(0, len(order), bs):
                x, widths = collate([prepared[i] for i in order[s : s + bs]], multiple=32)
                if dtype is None:
                    model(x, widths)
                else:
                    with torch.autocast("cpu", dtype=dtype):
                        model(x, widths)

    def timed(fn) -> dict:
        fn()  # warm-up: kernel caches for the shapes
        t = time.perf_counter()
        fn()
        s = time.perf_counter() - t
        return {"seconds": round(s, 3), "lines_per_s": round(len(prepared) / s, 1)}

    results = {
        "lines": len(prepared),
        "threads": args.threads,
        "export_seconds": round(export_s, 2),
        "onnx_vs_torch_max_abs_logprob_diff_first50": max_diff,
        "onnx_fp32_per_line": timed(onnx_per_line),
        "onnx_fp32_batch32_padded_NOT_equivalent": timed(onnx_batched),
        "torch_fp32_batch32": timed(lambda: torch_batched(None)),
        "torch_bf16_batch32": timed(lambda: torch_batched(torch.bfloat16)),
        "import_seconds": {m: import_seconds(m) for m in ("onnxruntime", "torch")},
        "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__},
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
