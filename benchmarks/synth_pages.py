"""Generate synthetic handwriting pages with true line boxes, for the segmentation benchmark.

Writes ``<page>.png`` (uint8 grayscale) and ``<page>.lines.json``
(``{"lines": [{"bbox": [x0, y0, x1, y1], "text": ...}], "style": ...}``, boxes x1/y1 exclusive).

Styles from handwriting fonts (laid out here; the library renders font lines, not pages):
  scan       whole page, clean paper, slight rotation
  paragraph  a paragraph cut tightly from a form (IAM-like), close line spacing
  photo      phone photo of a ruled notebook page: rules, margin, shadow, gradient, noise, rotation
  line       a single pre-cut line image (one line of a page, cut out with 2-30 px of paper)

Styles from IAM-OnDB pen strokes (need ../shared/data/iam-ondb): forms read by the library's
reader (``htrbatch.data.iamondb.read_iamondb``) and drawn by its page renderer
(``htrbatch.data.pages.render_page``, the renderer of ``htrbatch data pages``), with the
transcriptions as line texts:
  ondb            a whole form, page style ``scan``
  ondb-photo      page style ``notebook`` (phone photo of a ruled page)
  ondb-paragraph  page style ``paragraph`` (cropped tightly around the text)
  ondb-line       one line of a form alone, page style ``paragraph`` (a line image with a margin)

Text comes from ``../shared/data/text`` and handwriting fonts from ``../shared/fonts`` when present
(otherwise OpenCV's Hershey script font and a built-in sentence list).

    python benchmarks/synth_pages.py --out /tmp/pages --n 40 --seed 0 [--styles scan,photo]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from htrbatch.data.iamondb import SPLITS, OnlineLine, read_iamondb
from htrbatch.data.pages import group_forms, render_page

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FALLBACK_TEXT = [
    "the quick brown fox jumps over the lazy dog",
    "handwriting recognition of whole pages",
    "a large majority of members are likely to",
    "turn down the resolution on Tuesday night",
    "pack my box with five dozen liquor jugs",
    "sphinx of black quartz judge my vow",
]
# synth_pages style -> htrbatch.data.pages style
FONT_STYLES = ("scan", "paragraph", "photo", "line")
ONDB_PAGE_STYLES = {
    "ondb": "scan",
    "ondb-photo": "notebook",
    "ondb-paragraph": "paragraph",
    "ondb-line": "paragraph",
}


def _texts() -> list[str]:
    path = SHARED / "data" / "text" / "iam-lines-text.txt"
    if path.exists():
        lines = [t.strip() for t in path.read_text(encoding="utf-8").splitlines()]
        return [t for t in lines if len(t) > 8]
    return FALLBACK_TEXT


def _fonts() -> list[Path]:
    d = SHARED / "fonts"
    return sorted(d.glob("*.ttf")) if d.exists() else []


def _render_line(
    text: str, size: int, font: Path | None, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Ink coverage of one text line, float32 (h, w) in [0, 1], and its baseline row."""
    if font is not None:
        from PIL import Image, ImageDraw, ImageFont

        f = ImageFont.truetype(str(font), size)
        # Box relative to the baseline origin (anchor "ls"): y0 < 0 above the baseline.
        x0, y0, x1, y1 = f.getbbox(text, anchor="ls")
        im = Image.new("L", (x1 - x0 + 8, y1 - y0 + 8), 0)
        ImageDraw.Draw(im).text((4 - x0, 4 - y0), text, font=f, fill=255, anchor="ls")
        return np.asarray(im, dtype=np.float32) / 255.0, 4 - y0
    scale = size / 30.0
    thick = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, scale, thick)
    im = np.zeros((th + base + 16, tw + 16), np.uint8)
    # putText's origin is the left end of the baseline.
    cv2.putText(
        im, text, (8, th + 8), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, scale, 255, thick, cv2.LINE_AA
    )
    return im.astype(np.float32) / 255.0, th + 8


def _fit_text(texts: list[str], rng: np.random.Generator, max_chars: int) -> str:
    t = texts[int(rng.integers(len(texts)))]
    if len(t) > max_chars:
        cut = t[:max_chars].rsplit(" ", 1)[0]
        t = cut if len(cut) > 3 else t[:max_chars]
    return t


def _paste(page: np.ndarray, cov: np.ndarray, x: int, y: int) -> None:
    h, w = cov.shape
    H, W = page.shape
    xa, ya = max(0, x), max(0, y)
    xb, yb = min(W, x + w), min(H, y + h)
    if xb <= xa or yb <= ya:
        return
    sub = cov[ya - y : yb - y, xa - x : xb - x]
    page[ya:yb, xa:xb] = np.maximum(page[ya:yb, xa:xb], sub)


def _tilt(cov: np.ndarray, deg: float) -> tuple[np.ndarray, int]:
    """Rotate a line layer about its centre; returns it and the rows added on top."""
    if abs(deg) < 1e-3:
        return cov, 0
    h, w = cov.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    extra = int(abs(np.sin(np.deg2rad(deg))) * w / 2) + 2
    m[1, 2] += extra
    return cv2.warpAffine(cov, m, (w, h + 2 * extra), flags=cv2.INTER_LINEAR), extra


def _font_page(rng: np.random.Generator, style: str, texts: list[str], fonts: list[Path]):
    """Ink coverage (H, W) float32, per-line coverage layers' boxes and texts, and rule info."""
    if style == "paragraph":
        width = int(rng.integers(1200, 2200))
        n_lines = int(rng.integers(3, 10))
    else:
        width = int(rng.integers(1300, 2500))
        n_lines = int(rng.integers(6, 22))
    size = int(width / rng.uniform(22, 34))
    font = fonts[int(rng.integers(len(fonts)))] if fonts and rng.random() < 0.85 else None
    spacing = size * (rng.uniform(1.25, 1.7) if style != "paragraph" else rng.uniform(1.05, 1.4))
    margin_x = int(width * rng.uniform(0.04, 0.12))
    top = int(spacing * rng.uniform(0.6, 2.5))
    layers: list[tuple[np.ndarray, int, int, str]] = []
    max_w = width - 2 * margin_x
    y = top
    for i in range(n_lines):
        text = _fit_text(texts, rng, max_chars=int(rng.integers(25, 70)))
        if i == n_lines - 1 and rng.random() < 0.4:
            # A short last line: one or two real words, not a stray quote mark.
            words = [t for t in text.split() if sum(c.isalnum() for c in t) >= 2] or ["end"]
            text = " ".join(words[: int(rng.integers(1, 3))])
        cov, base = _render_line(text, size, font, rng)
        if cov.shape[1] > max_w:
            s = max_w / cov.shape[1]
            base = int(base * s)
            cov = cv2.resize(cov, (max_w, max(1, int(cov.shape[0] * s))))
        cov, extra = _tilt(cov, rng.normal(0, 0.6) if style != "scan" else rng.normal(0, 0.3))
        x = margin_x + int(rng.integers(0, max(1, int(0.05 * width))))
        # Baselines sit at the line pitch, with the small jitter of real writing.
        layers.append((cov, x, int(y - base - extra + rng.normal(0, 0.04 * spacing)), text))
        y += spacing
    height = int(y + spacing * rng.uniform(0.3, 2.0))
    if style != "paragraph":
        height = max(height, int(width * rng.uniform(1.2, 1.45)))
    return width, height, layers, spacing


def _ondb_forms(
    rng: np.random.Generator, n: int, split: str | None = None
) -> list[list[OnlineLine]]:
    """``n`` random IAM-OnDB forms of ``split`` (None: all) with at least two lines, each a list
    of its lines in reading order, read by the library's reader (``htrbatch.data.iamondb``)."""
    src = SHARED / "data" / "iam-ondb"
    if n <= 0 or not src.is_dir():
        return []
    forms = [f for f in group_forms(read_iamondb(src, split).lines) if len(f) >= 2]
    chosen = rng.choice(len(forms), size=min(n, len(forms)), replace=False)
    return [forms[int(i)] for i in chosen]


def _ondb_page(
    rng: np.random.Generator, style: str, form: list[OnlineLine]
) -> tuple[np.ndarray, list[dict]]:
    """A form drawn by the library's page renderer (``htrbatch.data.pages.render_page``).

    ``ondb-line`` draws one line of the form alone, cut out with a little paper (the renderer's
    ``paragraph`` style on that single line)."""
    if style == "ondb-line":
        form = [form[int(rng.integers(len(form)))]]
    page = render_page(form, rng, style=ONDB_PAGE_STYLES[style])
    lines = [{"bbox": [int(v) for v in ln.bbox], "text": ln.text} for ln in page.lines]
    return page.image, lines


def make_page(rng: np.random.Generator, style: str, texts=None, fonts=None, form=None):
    """Render one page.

    Returns:
        ``(gray, lines)``: uint8 (H, W) page and ``[{"bbox": [x0, y0, x1, y1], "text": str}]``
        in reading order.
    """
    if style.startswith("ondb"):
        return _ondb_page(rng, style, form)
    texts = texts or _texts()
    fonts = _fonts() if fonts is None else fonts
    width, height, layers, spacing = _font_page(
        rng, "scan" if style == "line" else style, texts, fonts
    )
    if style == "line":
        # A pre-cut line image: one line of the page alone, cut out with a little paper.
        layers = [layers[int(rng.integers(len(layers)))]]
    ink = np.zeros((height, width), np.float32)
    for cov, x, y, _ in layers:
        _paste(ink, cov, x, y)

    paper = rng.uniform(205, 248)
    ink_level = rng.uniform(15, 90)
    rules = np.zeros_like(ink)
    if style == "photo":
        # Rules at the text's own pitch, near the first line's baseline.
        first = layers[0][2] + layers[0][0].shape[0] * rng.uniform(0.6, 0.85)
        th = int(rng.integers(1, 4))
        yy = first - spacing * int(first // spacing)
        while yy < height:
            cv2.line(rules, (0, int(yy)), (width, int(yy)), 1.0, th, cv2.LINE_AA)
            yy += spacing
        if rng.random() < 0.7:
            xm = int(layers[0][1] - width * 0.02)
            cv2.line(rules, (xm, 0), (xm, height), 1.0, th, cv2.LINE_AA)
        rules *= rng.uniform(0.2, 0.55)
    # Ink over print: transmittances multiply, so crossings are darker than either.
    img = paper * (1 - rules) * (1 - ink * (1 - ink_level / paper))

    angle = {
        "scan": rng.normal(0, 0.8),
        "paragraph": rng.normal(0, 0.5),
        "line": rng.normal(0, 0.5),
    }.get(style, rng.uniform(-5, 5))
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    img = cv2.warpAffine(
        img, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )

    if style == "photo":
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        gx, gy = rng.uniform(-1, 1, 2)
        grad = 1 + 0.35 * (gx * (xx / width - 0.5) + gy * (yy / height - 0.5))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = np.hypot(xx - cx, yy - cy) / max(width, height)
        vign = 1 - 0.35 * np.clip(r, 0, 1) ** 2
        shadow = np.ones_like(img)
        if rng.random() < 0.8:
            # A soft-edged shadow, like a hand or phone over part of the page.
            nx, ny = rng.normal(size=2)
            d = (xx - rng.uniform(0.3, 0.9) * width) * nx + (yy - rng.uniform(0, height)) * ny
            edge = 1 / (1 + np.exp(np.clip(-d / (0.02 * width), -50, 50)))
            shadow = 1 - rng.uniform(0.25, 0.5) * edge
        img = img * grad * vign * shadow
        img = img + rng.normal(0, rng.uniform(3, 9), img.shape)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.2))
    else:
        img = img + rng.normal(0, rng.uniform(1, 4), img.shape)
    gray = np.clip(img, 0, 255).astype(np.uint8)
    if style == "photo":
        ok, enc = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 90))])
        gray = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE)

    lines = []
    for cov, x, y, text in layers:
        ys, xs = np.nonzero(cov > 0.35)
        if len(ys) == 0:
            continue
        pts = np.stack([xs + x, ys + y, np.ones_like(xs)], 1).astype(np.float64)
        pts = pts @ m.T  # (N, 3) @ (3, 2) -> (N, 2) rotated (x, y)
        bx0, by0 = np.floor(pts.min(0)).astype(int)
        bx1, by1 = np.ceil(pts.max(0)).astype(int) + 1
        bx0, by0 = max(0, bx0), max(0, by0)
        bx1, by1 = min(width, bx1), min(height, by1)
        if bx1 > bx0 and by1 > by0:
            lines.append({"bbox": [int(bx0), int(by0), int(bx1), int(by1)], "text": text})
    if style in ("paragraph", "line"):
        # Cut the paragraph (line) out like a form region: a margin of paper around the text.
        xs0 = min(ln["bbox"][0] for ln in lines)
        ys0 = min(ln["bbox"][1] for ln in lines)
        xs1 = max(ln["bbox"][2] for ln in lines)
        ys1 = max(ln["bbox"][3] for ln in lines)
        pad = int(rng.integers(5, 60) if style == "paragraph" else rng.integers(2, 30))
        cx0, cy0 = max(0, xs0 - pad), max(0, ys0 - pad)
        cx1, cy1 = min(width, xs1 + pad), min(height, ys1 + pad)
        gray = gray[cy0:cy1, cx0:cx1].copy()
        for ln in lines:
            b = ln["bbox"]
            ln["bbox"] = [b[0] - cx0, b[1] - cy0, b[2] - cx0, b[3] - cy0]
    return gray, lines


def generate(
    out: Path,
    n: int,
    seed: int = 0,
    styles: list[str] | None = None,
    ondb_split: str | None = None,
) -> list[Path]:
    """Write ``n`` pages cycling through ``styles`` into ``out``; return the image paths.

    IAM-OnDB styles draw forms of ``ondb_split`` (None: all splits); without the data they
    fall back to font ``scan`` pages."""
    styles = styles or ["scan", "paragraph", "photo", "ondb", "ondb-photo", "ondb-paragraph"]
    bad = [s for s in styles if s not in FONT_STYLES and s not in ONDB_PAGE_STYLES]
    if bad:
        raise SystemExit(f"unknown style(s) {', '.join(bad)}")
    rng = np.random.default_rng(seed)
    texts, fonts = _texts(), _fonts()
    n_ondb = sum(1 for i in range(n) if styles[i % len(styles)].startswith("ondb"))
    forms = _ondb_forms(rng, n_ondb, ondb_split)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        style = styles[i % len(styles)]
        form = None
        if style.startswith("ondb"):
            if forms:
                form = forms.pop()
            else:
                style = "scan"
        gray, lines = make_page(rng, style, texts, fonts, form)
        stem = f"synth-{i:04d}-{style}"
        ok, png = cv2.imencode(".png", gray)
        (out / f"{stem}.png").write_bytes(png.tobytes())
        payload = {"lines": lines, "style": style}
        (out / f"{stem}.lines.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
        paths.append(out / f"{stem}.png")
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--styles", default="scan,paragraph,photo,ondb,ondb-photo,ondb-paragraph")
    ap.add_argument(
        "--ondb-split", choices=SPLITS, default=None, help="IAM-OnDB forms from (default: all)"
    )
    args = ap.parse_args()
    paths = generate(args.out, args.n, args.seed, args.styles.split(","), args.ondb_split)
    print(f"wrote {len(paths)} pages to {args.out}")


if __name__ == "__main__":
    main()
