"""Render whole IAM-OnDB forms into page images with true line boxes.

Every line of a form is drawn at its recorded whiteboard position with one pen (``render.py``'s
speed-dependent width and ink, one ``RenderStyle`` per page), onto one sheet: clean scan, gray
paper with pencil-gray ink, a ruled notebook page photographed with a phone, or a plain page
photographed. The sheet may be turned a little; boxes are measured on the drawn pen traces and
turned with it, so they follow the ink.

Styles (``PAGE_STYLES``):
  scan       white paper, dark ink, flatbed scan (barely turned)
  paragraph  a scan cropped tightly around the text block, as IAM paragraph images are
  gray       gray ink on gray paper, low contrast
  photo      phone photo of a plain page: light gradient, shadow, vignette, noise, JPEG, turned
  notebook   as photo, on ruled paper (blue-gray rules, maybe a red margin line); the writing
             is moved a little so that lines sit on the rules
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from htrbatch.data.degrade import (
    PageStyle,
    capture,
    composite_ink,
    draw_rules,
    make_paper,
    sample_page_style,
    smooth_noise,
    texture_ink,
)
from htrbatch.data.iamondb import OnlineLine, read_iamondb
from htrbatch.data.parallel import map_with_progress
from htrbatch.data.render import (
    RenderStyle,
    clean_strokes,
    draw_strokes,
    estimate_layout,
    sample_style,
)
from htrbatch.data.render_dataset import line_rng, make_out_dir
from htrbatch.errors import DatasetError, OptionsError
from htrbatch.io import write_atomic
from htrbatch.types import BBox

PAGE_STYLES = ("scan", "paragraph", "gray", "photo", "notebook")
IMAGE_FORMATS = ("png", "jpg")


@dataclass(frozen=True)
class PageOptions:
    """How to render the forms of a split: seed, how many, workers, styles, file format."""

    seed: int = 0
    limit: int | None = None  # first N forms (by id); None = all
    workers: int = 2
    styles: tuple[str, ...] = PAGE_STYLES  # one is drawn per page, uniformly
    image_format: str = "png"
    jpeg_quality: int = 90  # when image_format is "jpg"

    def validate(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise OptionsError(f"limit must be >= 1, got {self.limit}")
        if self.workers < 1:
            raise OptionsError(f"workers must be >= 1, got {self.workers}")
        bad = [s for s in self.styles if s not in PAGE_STYLES]
        if bad or not self.styles:
            got = ", ".join(bad) or "(none)"
            raise OptionsError(f"unknown page style {got}: expected {', '.join(PAGE_STYLES)}")
        if self.image_format not in IMAGE_FORMATS:
            raise OptionsError(
                f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {self.image_format!r}"
            )
        if not 1 <= self.jpeg_quality <= 100:
            raise OptionsError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")


DEFAULTS = PageOptions()


@dataclass(frozen=True)
class PageLine:
    """One line on a rendered page: its id, box (page px, x1/y1 exclusive) and transcription."""

    id: str
    bbox: BBox
    text: str


@dataclass
class RenderedPage:
    """A rendered form: the page uint8 (H, W) and its lines in reading order."""

    form: str
    style: str
    image: np.ndarray
    lines: list[PageLine]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "style": self.style,
            "width": int(self.image.shape[1]),
            "height": int(self.image.shape[0]),
            "lines": [{"bbox": [int(v) for v in ln.bbox], "text": ln.text} for ln in self.lines],
        }


@dataclass
class _Line:
    line: OnlineLine
    strokes: list[np.ndarray]
    x_height: float  # sensor units
    baseline: float  # sensor y of the baseline under the middle of the line


def _prepare(lines: Sequence[OnlineLine]) -> list[_Line]:
    out = []
    for line in lines:
        strokes = clean_strokes(line.strokes)
        if not strokes:
            continue
        layout = estimate_layout(strokes)
        # The layout's baseline is in a frame turned by -angle; bring its middle back. It marks
        # where the core's ink density falls below 40 % of its peak; the letters' visible bottoms
        # (15 % of the peak) are a median 0.15 x-heights lower on IAM-OnDB lines.
        pts = np.concatenate(strokes)[:, :2]
        c, s = np.cos(layout.angle), np.sin(layout.angle)
        u = float(np.median(c * pts[:, 0] + s * pts[:, 1]))
        baseline = s * u + c * (layout.baseline + 0.2 * layout.x_height)
        out.append(_Line(line, strokes, layout.x_height, float(baseline)))
    return out


def _page_style(name: str, rng: np.random.Generator, pen: float) -> tuple[PageStyle, float]:
    """Paper, ink and capture parameters for a page style, and the page's rotation (degrees)."""
    u = rng.uniform
    if name in ("scan", "paragraph"):
        base = sample_page_style(rng, float(u(0.0, 0.15)))
        style = replace(
            base, paper_level=u(232, 252), ink_level=u(0, 60), rule_darkness=0.0,
            illumination=0.0, vignette=0.0, motion_length=0.0, rescale=1.0,
            noise_sigma=u(0.5, 2.5), paper_texture=u(0.0, 1.5),
        )  # fmt: skip
        angle = float(np.clip(rng.normal(0, 0.5), -1.5, 1.5))
    elif name == "gray":
        base = sample_page_style(rng, float(u(0.2, 0.5)))
        paper = u(150, 195)
        # Pencil or a pale pen on gray stock: at least 55 gray levels of contrast, or it is
        # unreadable.
        style = replace(
            base, paper_level=paper, ink_level=paper - u(55, 95), ink_opacity=u(0.85, 1.0),
            rule_darkness=0.0, illumination=u(0.0, 0.15), vignette=0.0, motion_length=0.0,
        )  # fmt: skip
        angle = float(np.clip(rng.normal(0, 0.8), -2.0, 2.0))
    else:
        base = sample_page_style(rng, float(u(0.35, 0.85)))
        illumination = u(0.1, 0.35)
        vignette = u(0.05, 0.3)
        paper = u(200, 250)
        darkest = paper * (1 - illumination) * (1 - 0.6 * vignette) * 0.7  # 0.7: the shadow
        style = replace(
            base, paper_level=paper, illumination=illumination, vignette=vignette,
            ink_level=min(base.ink_level, max(0.0, darkest - 60)), rule_darkness=0.0,
            jpeg_quality=int(u(55, 90)), paper_texture=u(0.5, 3.0), texture_scale=u(20, 80),
        )  # fmt: skip
        angle = float(u(-3.0, 3.0))
    style = replace(
        style,
        blur_sigma=min(style.blur_sigma, 0.35 + 0.45 * pen),
        motion_length=min(style.motion_length, 1.0 + 1.5 * pen),
    )
    return style, angle


def _rule_pitch(baselines: np.ndarray, x_height: float) -> tuple[float, float]:
    """Pitch and phase (px) of rules that the baselines sit on as closely as possible."""
    gaps = np.diff(np.sort(baselines))
    gaps = gaps[gaps > 1.5 * x_height]
    pitch = float(np.median(gaps)) if len(gaps) else 3.4 * x_height
    # Lines written a pitch or two apart (a gap left for a heading) still count: the phase is
    # the circular mean of the baselines modulo the pitch.
    angles = 2 * np.pi * baselines / pitch
    phase = float(np.angle(np.mean(np.exp(1j * angles))) / (2 * np.pi) * pitch)
    return pitch, phase


def _shadow(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A soft-edged shadow over part of the page (a hand or the phone): float32 (H, W) factor."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    cx, cy = rng.uniform(0.2, 1.0) * w, rng.uniform(0.0, 1.0) * h
    d = (xx - cx) * np.float32(np.cos(a)) + (yy - cy) * np.float32(np.sin(a))
    soft = np.float32(rng.uniform(0.01, 0.08) * w)
    edge = 1 / (1 + np.exp(np.clip(-d / soft, -50, 50)))
    return (1 - rng.uniform(0.15, 0.35) * edge).astype(np.float32)


def render_page(
    lines: Sequence[OnlineLine],
    rng: np.random.Generator,
    style: str | None = None,
    x_height: float | None = None,
    page_width: int | None = None,
    styles: Sequence[str] = PAGE_STYLES,
) -> RenderedPage:
    """Render the lines of one form (in reading order) onto one page.

    ``style`` is drawn from ``styles`` when None; the x-height (px) is drawn from 18-40 unless
    ``x_height`` or ``page_width`` (px, about) is given. Lines without usable ink are left out.
    Returns the page uint8 (H, W) with one ``PageLine`` per drawn line, boxes in page px.
    """
    prepared = _prepare(lines)
    form = lines[0].form if lines else "?"
    if not prepared:
        raise DatasetError(f"form {form}: no line with usable ink")
    if style is None:
        style = styles[int(rng.integers(len(styles)))]
    if style not in PAGE_STYLES:
        raise OptionsError(f"unknown page style {style!r}: expected {', '.join(PAGE_STYLES)}")
    u = rng.uniform
    pen_style: RenderStyle = sample_style(rng, clean_fraction=1.0)

    pts = np.concatenate([np.concatenate(p.strokes)[:, :2] for p in prepared])
    (sx0, sy0), (sx1, sy1) = pts.min(axis=0), pts.max(axis=0)
    form_xh = float(np.median([p.x_height for p in prepared]))
    tight = style == "paragraph"
    left, right = (u(0.3, 2.0), u(0.3, 2.0)) if tight else (u(0.06, 0.15), u(0.04, 0.12))
    if page_width is not None:
        if tight:
            scale = page_width / (sx1 - sx0) / 1.03
        else:
            scale = page_width / ((sx1 - sx0) * (1 + left + right))
    else:
        scale = (x_height if x_height is not None else u(18, 40)) / form_xh
    xh = form_xh * scale  # px
    write_w, write_h = (sx1 - sx0) * scale, (sy1 - sy0) * scale
    if tight:
        ml, mr, mt, mb = (v * xh for v in (left, right, u(0.3, 2.0), u(0.3, 2.0)))
    else:
        ml, mr = left * write_w, right * write_w
        mt, mb = u(0.04, 0.15) * write_w, u(0.04, 0.2) * write_w
    width = int(np.ceil(ml + write_w + mr))
    height = int(np.ceil(mt + write_h + mb))
    if not tight and rng.random() < 0.7:
        height = max(height, int(width * u(1.1, 1.42)))  # a whole sheet, text at the top

    # One pen for the page, its width relative to the writing as render_line would draw it.
    pen = float(np.clip(pen_style.pen_width / pen_style.x_height * xh, 1.0, 6.0))
    ss = min(pen_style.supersample, 3)
    pen_style = replace(pen_style, x_height=xh, pen_width=pen, supersample=ss)
    page_style, angle = _page_style(style, rng, pen)

    offset_y = np.zeros(len(prepared))
    rules: list[float] = []
    margin_x = None
    if style == "notebook":
        baselines = np.array([(p.baseline - sy0) * scale + mt for p in prepared])
        pitch, phase = _rule_pitch(baselines, xh)
        nearest = phase + np.round((baselines - phase) / pitch) * pitch
        # Writers sit on the rule only roughly.
        offset_y = nearest - baselines + rng.normal(0, 0.08 * xh, len(prepared))
        first = phase - np.floor((phase - u(0.03, 0.08) * height) / pitch) * pitch
        if rng.random() < 0.5:
            # No header band: rules run over the whole sheet, beyond what the picture shows.
            first -= pitch * np.ceil((first + height) / pitch)
        rules = list(np.arange(first, 2 * height, pitch))
        if rng.random() < 0.6 and ml > 1.5 * xh:
            margin_x = ml - u(0.4, min(1.2, ml / xh - 0.5)) * xh

    canvas = np.zeros((height * ss, width * ss), np.uint8)
    traces = []
    for p, dy in zip(prepared, offset_y, strict=True):
        k = scale * ss
        x_off, y_off = (ml - sx0 * scale) * ss, (mt + dy - sy0 * scale) * ss
        matrix = np.array([[k, 0.0, x_off], [0.0, k, y_off]])
        traces.append(draw_strokes(canvas, p.strokes, matrix, p.x_height, pen_style) / ss)
    alpha = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    alpha = alpha.astype(np.float32) / 255.0
    del canvas

    # Paper, rules and ink are laid out on a sheet larger than the picture, so that turning it
    # brings in more sheet at the corners rather than a mirrored or smeared border.
    ps = page_style
    grow = int(np.ceil(np.sin(np.radians(abs(angle))) * max(width, height))) + 2 if angle else 0
    shape = (height + 2 * grow, width + 2 * grow)
    page = make_paper(shape, rng, ps.paper_level, ps.paper_texture, ps.texture_scale, ps.grain)
    if rules:
        # Blue-gray rules and a red margin line, as a gray camera or scanner sees them.
        rgb = (u(110, 190), u(150, 210), u(190, 245)) if rng.random() < 0.7 else (u(150, 200),) * 3
        gray = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
        ys = [y + grow for y in rules]
        page = draw_rules(page, ys, rng, ps.paper_level * (1 - gray / 255), u(1.0, 2.5))
        if margin_x is not None:
            red = 0.299 * u(200, 245) + 0.701 * u(70, 140)
            margin = draw_rules(page.T.copy(), [margin_x + grow], rng,
                                ps.paper_level * (1 - red / 255), u(1.0, 2.0))  # fmt: skip
            page = np.ascontiguousarray(margin.T)
    ink = np.zeros(shape, np.float32)
    ink[grow : grow + height, grow : grow + width] = texture_ink(alpha, rng, ps.ink_texture)
    page = composite_ink(page, ink, ps.ink_level, ps.ink_opacity)
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    if angle:
        page = cv2.warpAffine(page, cv2.getRotationMatrix2D((width / 2 + grow, height / 2 + grow),
                              angle, 1.0), shape[::-1], flags=cv2.INTER_LINEAR)  # fmt: skip
        page = np.ascontiguousarray(page[grow : grow + height, grow : grow + width])
    if style in ("photo", "notebook"):
        page = page * (1 + u(0.02, 0.07) * smooth_noise((height, width), rng, width / 3))
        if rng.random() < 0.7:
            page = page * _shadow((height, width), rng)
    image = capture(page, ps, rng)

    out_lines = []
    pad = 0.8 * pen + 1  # a trace is the pen's centre; ink reaches half a (fast-thinned) pen out
    for p, xy in zip(prepared, traces, strict=True):
        turned = xy @ turn[:, :2].T + turn[:, 2]
        x0, y0 = np.floor(turned.min(axis=0) - pad).astype(int)
        x1, y1 = np.ceil(turned.max(axis=0) + pad).astype(int) + 1
        box = (max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1)))
        if box[2] > box[0] and box[3] > box[1]:
            out_lines.append(PageLine(p.line.id, box, p.line.text))
    return RenderedPage(form=form, style=style, image=image, lines=out_lines)


def write_page(
    page: RenderedPage, out_dir: Path, image_format: str = "png", jpeg_quality: int = 90
) -> Path:
    """Write ``<form>.png|jpg``, ``<form>.gt.txt`` and ``<form>.lines.json``; returns the image."""
    out_dir = Path(out_dir)
    if image_format == "jpg":
        ok, data = cv2.imencode(".jpg", page.image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    else:
        ok, data = cv2.imencode(".png", page.image)
    if not ok:  # pragma: no cover - a 2-D uint8 array always encodes
        raise DatasetError(f"{page.form}: cannot encode page image")
    path = out_dir / f"{page.form}.{image_format}"
    write_atomic(path, data.tobytes())
    write_atomic(out_dir / f"{page.form}.gt.txt", page.text + "\n")
    write_atomic(out_dir / f"{page.form}.lines.json", json.dumps(page.to_dict(), indent=1) + "\n")
    return path


@dataclass(frozen=True)
class PageCounts:
    """Pages written, forms skipped (no usable ink) and lines left out of the written pages."""

    written: int
    skipped: int
    lines: int  # lines drawn on the written pages


def _render_form(job: tuple[list[OnlineLine], Path, PageOptions]) -> int:
    lines, out_dir, opts = job
    rng = line_rng(lines[0].form, 0, opts.seed)
    try:
        page = render_page(lines, rng, styles=opts.styles)
    except DatasetError:
        return -1
    write_page(page, out_dir, opts.image_format, opts.jpeg_quality)
    return len(page.lines)


def group_forms(lines: Sequence[OnlineLine]) -> list[list[OnlineLine]]:
    """Lines grouped by form, forms sorted by id, lines in id (reading) order."""
    forms: dict[str, list[OnlineLine]] = {}
    for line in sorted(lines, key=lambda ln: ln.id):
        forms.setdefault(line.form, []).append(line)
    return [forms[f] for f in sorted(forms)]


def render_forms(
    forms: Sequence[Sequence[OnlineLine]],
    out_dir: Path,
    options: PageOptions = DEFAULTS,
    progress: Callable[[int, int], None] | None = None,
) -> PageCounts:
    """Render each form (a list of its lines) to a page in ``out_dir``; ``progress`` counts pages.

    Each page's generator comes from (seed, form id), so output does not depend on ``workers``.
    """
    options.validate()
    out_dir = make_out_dir(out_dir)
    jobs = [(list(f), out_dir, options) for f in forms if f]
    if options.limit is not None:
        jobs = jobs[: options.limit]
    written = skipped = n_lines = 0
    try:
        for n in map_with_progress(_render_form, jobs, options.workers, progress):
            if n < 0:
                skipped += 1
            else:
                written += 1
                n_lines += n
    except OSError as exc:
        raise DatasetError(f"{out_dir}: cannot write page ({exc})") from exc
    return PageCounts(written=written, skipped=skipped, lines=n_lines)


def render_pages(
    src: Path,
    split: str,
    out_dir: Path,
    seed: int = DEFAULTS.seed,
    limit: int | None = DEFAULTS.limit,
    workers: int = DEFAULTS.workers,
    progress: Callable[[int, int], None] | None = None,
    styles: Sequence[str] = DEFAULTS.styles,
    image_format: str = DEFAULTS.image_format,
) -> PageCounts:
    """Read ``split`` of IAM-OnDB at ``src`` and render each of its forms (the first ``limit``)
    to ``<out_dir>/<form>.png`` + ``.gt.txt`` + ``.lines.json``."""
    options = PageOptions(seed, limit, workers, tuple(styles), image_format)
    options.validate()
    db = read_iamondb(Path(src), split)
    return render_forms(group_forms(db.lines), out_dir, options, progress)
