"""A taller-input recogniser initialised from a trained one (issue 21 experiment).

Input height H -> 2H with one more 2x2 max-pool after conv layer ``--after`` (default 3):
every weight keeps its shape (the convolutions are size-free; the pooling brings the feature
map back to the old height before the projection, and width pooling doubles, so the BLSTM
sees as many frames per line as before). The first convolutions then read strokes at twice
the resolution; fine-tuning (``htrbatch train --init OUT``) teaches them to use it.

    python benchmarks/widen_height.py models/hooker-crnn.pt work/h64/init.pt
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from torch import nn

from htrbatch.model import CRNN, load_checkpoint, read_checkpoint, save_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument(
        "--after", type=int, default=3, help="conv layer (1-based) the new pool follows"
    )
    args = ap.parse_args()
    loaded = load_checkpoint(args.checkpoint)
    c = loaded.config
    i = args.after - 1
    if c.pool_h[i] != 1 or c.pool_w[i] != 1:
        raise SystemExit(f"conv layer {args.after} already pools ({c.pool_h[i]}x{c.pool_w[i]})")
    ph, pw = list(c.pool_h), list(c.pool_w)
    ph[i], pw[i] = 2, 2
    config = replace(c, height=2 * c.height, pool_h=tuple(ph), pool_w=tuple(pw))
    model = CRNN(config, len(loaded.charset))
    # same shapes, by construction; the conv stack's indices shift by the new pooling layer
    old = [m for m in loaded.model.conv if not isinstance(m, (nn.MaxPool2d, nn.ReLU))]
    new = [m for m in model.conv if not isinstance(m, (nn.MaxPool2d, nn.ReLU))]
    for a, b in zip(old, new, strict=True):
        b.load_state_dict(a.state_dict())
    for name in ("proj", "rnn", "head"):
        getattr(model, name).load_state_dict(getattr(loaded.model, name).state_dict())
    meta = dict(read_checkpoint(args.checkpoint).get("meta", {}))
    meta["widened_from"] = str(args.checkpoint)
    save_checkpoint(args.out, model, loaded.charset, meta)
    print(f"{args.out}: height {config.height}, pool_h {config.pool_h}, pool_w {config.pool_w}")


if __name__ == "__main__":
    main()
