"""Make samples/ (three example pages for the README) and docs/img/pages-samples.png.

    nice python benchmarks/make_samples.py        # reads ../shared/data/iam-ondb (testset_t only)

The pages are whole IAM-OnDB test forms (testset_t: writers the recogniser never trained on)
rendered by ``htrbatch.data.pages``: a clean scan, a phone photo of a ruled notebook page and
gray ink on gray paper, as JPEG (quality 85, < 400 KB), each with ``<name>.gt.txt``. The contact
sheet shows every page style with the true line boxes drawn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from htrbatch.data.iamondb import read_iamondb  # noqa: E402
from htrbatch.data.pages import PAGE_STYLES, RenderedPage, group_forms, render_page  # noqa: E402
from htrbatch.data.render_dataset import line_rng  # noqa: E402

# (form, style, page width px): legible writers with digits, quotes and punctuation.
SAMPLES = (("d05-335z", "scan", 1500), ("a04-047", "notebook", 1600), ("m04-392z", "gray", 1400))
SHEET_FORMS = ("d05-335z", "a04-047", "m04-392z", "k09-890z", "a01-087")  # one per style
MAX_BYTES = 400_000
THUMB_H = 440


def _jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    # Lower the quality only if a page would be too big for the repository.
    while True:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        if len(data) <= MAX_BYTES or quality <= 60:
            return data.tobytes()
        quality -= 5


def _thumb(page: RenderedPage) -> np.ndarray:
    img = cv2.cvtColor(page.image, cv2.COLOR_GRAY2BGR)
    colours = [(0, 0, 230), (0, 150, 0), (220, 90, 0)]
    for i, line in enumerate(page.lines):
        x0, y0, x1, y1 = line.bbox
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), colours[i % 3], 3)
    h, w = img.shape[:2]
    img = cv2.resize(img, (round(w * THUMB_H / h), THUMB_H), interpolation=cv2.INTER_AREA)
    cv2.putText(img, page.style, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 200), 2)
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=REPO.parent / "shared" / "data" / "iam-ondb")
    ap.add_argument("--out", type=Path, default=REPO / "samples")
    ap.add_argument("--sheet", type=Path, default=REPO / "docs" / "img" / "pages-samples.png")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    forms = {f[0].form: f for f in group_forms(read_iamondb(args.src, "testset_t").lines)}
    args.out.mkdir(parents=True, exist_ok=True)
    for form, style, width in SAMPLES:
        page = render_page(forms[form], line_rng(form, 0, args.seed), style, page_width=width)
        name = f"{form}-{style}"
        data = _jpeg(page.image)
        (args.out / f"{name}.jpg").write_bytes(data)
        (args.out / f"{name}.gt.txt").write_text(page.text + "\n", encoding="utf-8")
        h, w = page.image.shape
        print(f"{args.out / name}.jpg: {w}x{h}, {len(page.lines)} lines, {len(data) // 1000} KB")

    thumbs = []
    for form, style in zip(SHEET_FORMS, PAGE_STYLES, strict=True):
        page = render_page(forms[form], line_rng(form, 1, args.seed), style, page_width=1200)
        thumbs.append(_thumb(page))
        thumbs.append(np.full((THUMB_H, 12, 3), 255, np.uint8))
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    sheet = cv2.cvtColor(np.concatenate(thumbs[:-1], axis=1), cv2.COLOR_BGR2RGB)
    # A 64-colour palette keeps the sheet small for the repository; grays and boxes survive.
    Image.fromarray(sheet).quantize(64).save(args.sheet, optimize=True)
    print(f"{args.sheet}: {args.sheet.stat().st_size // 1000} KB")


if __name__ == "__main__":
    main()
