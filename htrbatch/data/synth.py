"""Synthetic handwriting lines from handwriting fonts, degraded like scans and phone photos.

A line is laid out glyph by glyph at ``supersample`` times the output size, each glyph slightly
turned, scaled and lifted, on a drifting baseline; the whole line is then slanted, stretched and
turned, cropped with margins (bits of the lines above and below may show, as a segmenter leaves
them), shrunk to an ink mask and handed to ``degrade.apply_page_style``.

Labels keep the corpus convention (LOB/IAM tokens: ``Mr . Gaitskell , who``) while the image is
written the way people write (``Mr. Gaitskell, who``): real IAM line images and their
transcriptions differ the same way, so the recogniser learns the convention rather than a gap.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from htrbatch.data.degrade import apply_page_style
from htrbatch.data.parallel import map_with_progress
from htrbatch.data.render import RenderStyle, sample_style
from htrbatch.data.render_dataset import line_rng, make_out_dir
from htrbatch.data.text import form_transcriptions, load_text_lines, read_text_lines
from htrbatch.errors import DatasetError, OptionsError
from htrbatch.io import write_atomic

_REF_SIZE = 100  # font size (px) at which glyph coverage and x-height are measured
_SUPERSAMPLE = 2  # glyphs come anti-aliased already; 2x is enough for the turns and shears
_NOTDEF_PROBE = "\U0010fffd"  # a private-use code point no font maps: renders as .notdef


@dataclass(frozen=True)
class FontStyle:
    """All sampled parameters of one font rendering (lengths in x-heights unless marked px).

    ``line`` holds what a font line shares with a stroke rendering (size, slant, turn, stretch,
    margins, neighbour lines, rules, paper and capture), drawn by ``render.sample_style``; the
    pen fields there do not apply, the font draws the strokes.
    """

    line: RenderStyle
    letter_spacing: float  # extra advance per character
    spacing_jitter: float  # std of per-character advance noise
    word_spacing: float  # factor on the font's space advance
    char_jitter: float  # std of per-character vertical offset
    char_rotation: float  # std of per-character rotation, degrees
    char_scale: float  # std of per-character log size
    drift: float  # baseline drift amplitude
    drift_period: float
    drift_phase: float
    weight: float  # relative change of stroke thickness (-0.3 thinner .. 0.6 bolder)


def sample_font_style(rng: np.random.Generator, clean_fraction: float = 0.25) -> FontStyle:
    """Draw a ``FontStyle``: ``clean_fraction`` are clean scans, the rest progressively harder."""
    u = rng.uniform
    return FontStyle(
        line=sample_style(rng, clean_fraction),
        letter_spacing=float(u(-0.04, 0.15)),
        spacing_jitter=float(u(0.0, 0.04)),
        word_spacing=float(u(0.8, 1.6)),
        char_jitter=float(u(0.0, 0.06)),
        char_rotation=float(u(0.0, 4.0)),
        char_scale=float(u(0.0, 0.06)),
        drift=float(u(0.0, 0.15)),
        drift_period=float(u(8, 40)),
        drift_phase=float(u(0, 2 * np.pi)),
        weight=float(u(-0.3, 0.6)),
    )


# --- fonts and glyph coverage ----------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot load font ({exc})") from exc


def _mask_key(font: ImageFont.FreeTypeFont, ch: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


@functools.cache
def _notdef_key(path: str) -> tuple[tuple[int, int], bytes]:
    return _mask_key(_font(path, _REF_SIZE), _NOTDEF_PROBE)


@functools.lru_cache(maxsize=65536)
def _has_glyph(path: str, ch: str) -> bool:
    if ch.isspace():
        return ch == " "
    font = _font(path, _REF_SIZE)
    # A character the font lacks is drawn as its .notdef glyph (a box, or often nothing).
    if font.getmask(ch).getbbox() is None:
        return False
    return _mask_key(font, ch) != _notdef_key(path)


def missing_glyphs(font_path: str | Path, text: str) -> list[str]:
    """Characters of ``text`` the font cannot draw (sorted, without duplicates)."""
    path = str(font_path)
    return sorted(ch for ch in set(text) if not _has_glyph(path, ch))


@functools.cache
def _x_height_ratio(path: str) -> float:
    """Height of the font's ``x`` per px of font size."""
    bbox = _font(path, _REF_SIZE).getbbox("x", anchor="ls")
    return max(bbox[3] - bbox[1], 1) / _REF_SIZE


def list_fonts(fonts_dir: str | Path) -> list[Path]:
    """The ``.ttf``/``.otf`` files in ``fonts_dir`` (sorted); raises DatasetError when none."""
    fonts_dir = Path(fonts_dir)
    if not fonts_dir.is_dir():
        raise DatasetError(f"{fonts_dir}: fonts folder not found")
    fonts = sorted(p for p in fonts_dir.iterdir() if p.suffix.lower() in (".ttf", ".otf"))
    if not fonts:
        raise DatasetError(f"{fonts_dir}: no .ttf or .otf fonts found")
    return fonts


# --- text ------------------------------------------------------------------------------------

_TIGHT_BEFORE = re.compile(r" ([,.;:?!)\]%]|n't\b|'(?:s|ll|re|ve|d|m|t)\b)")
_TIGHT_AFTER = re.compile(r"([(\[]) ")
_SPLIT_CLITIC = re.compile(r" ' (s|ll|re|ve|d|m|t)\b")
_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                       "\u2014": "-", "\u00a0": " "})  # fmt: skip


def written_form(label: str) -> str:
    """How a tokenised corpus line is written by hand: ``Mr . Foot 's ( 1961 )`` ->
    ``Mr. Foot's (1961)``."""
    s = _SPLIT_CLITIC.sub(r"'\1", label)
    s = _TIGHT_BEFORE.sub(r"\1", s)
    s = _TIGHT_AFTER.sub(r"\1", s)
    tokens = s.split(" ")
    if not any(tok in ('"', "'") for tok in tokens):
        return s
    # Straight quotes alternate open/close; an opening one hugs the next word, a closing one
    # the previous. A line is a fragment: a quote at its end closes, at its start opens, and the
    # line's first quote closes when it follows punctuation (the rest of the quote came before).
    out: list[str] = []
    last_opened: dict[str, bool | None] = {'"': None, "'": None}  # None: none seen yet
    for i, tok in enumerate(tokens):
        if tok not in last_opened:
            out.append(tok)
            continue
        after_punct = bool(out) and out[-1][-1] in ",.;:!?"
        if last_opened[tok] is None:
            closes = i == len(tokens) - 1 or (i > 0 and after_punct)
        else:
            closes = i == len(tokens) - 1 or (i > 0 and bool(last_opened[tok]))
        if closes and out:
            out[-1] += tok
        elif i + 1 < len(tokens):
            tokens[i + 1] = tok + tokens[i + 1]
        else:
            out.append(tok)
        last_opened[tok] = not closes
    return " ".join(out)


def fold_text(text: str) -> str:
    """Typographic quotes and dashes to ASCII, accents dropped: a fallback for fonts that lack
    them."""
    s = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in s if not unicodedata.combining(ch))


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
_UNITS = ("miles", "yards", "ft", "lb", "tons", "acres", "per cent", "%", "men", "years")


def random_snippet(rng: np.random.Generator, words: Sequence[str] = ()) -> str:
    """A short line rich in digits and punctuation (dates, amounts, quotes, references), tokenised
    like the corpus (punctuation as separate tokens) and mixed with ``words`` when given."""

    def pick(seq: Sequence[str]) -> str:
        return seq[int(rng.integers(len(seq)))]

    def num() -> str:
        k = int(rng.integers(6))
        if k == 0:
            return str(int(rng.integers(0, 10)))
        if k == 1:
            return str(int(rng.integers(10, 100)))
        if k == 2:
            return f"{int(rng.integers(1, 1000)):,}" + f",{int(rng.integers(0, 1000)):03d}"
        if k == 3:
            return f"{rng.uniform(0, 100):.{int(rng.integers(1, 3))}f}"
        if k == 4:
            return str(int(rng.integers(1800, 2030)))
        return str(int(rng.integers(100, 10000)))

    day, month, year = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(0, 100))
    kinds = [
        f"{day} {_MONTHS[month - 1]} , 19{year:02d}",
        f"{day}/{month}/{year:02d}",
        f"{day}.{month}.{year:02d}",
        f"{_MONTHS[month - 1]} {day} , 19{year:02d}",
        f"{num()} {pick(_UNITS)}",
        f"( {num()} )",
        f"No. {int(rng.integers(1, 500))}",
        f"pp. {(p := int(rng.integers(1, 400)))}-{p + int(rng.integers(1, 40))}",
        f"{int(rng.integers(1, 13))}.{int(rng.integers(0, 60)):02d} {pick(['a.m.', 'p.m.'])}",
        f"Tel. {int(rng.integers(10, 99)):02d}-{int(rng.integers(100, 999))} "
        f"{int(rng.integers(1000, 9999))}",
        f"# {int(rng.integers(1, 100))}",
        f"{num()} + {num()}",
        f"{num()} * {num()}",
        f"[ {int(rng.integers(1, 50))} ]",
        f"{int(rng.integers(1, 20))} @ {num()}",
        f"{num()} - {num()}",
        f"ref_{int(rng.integers(1, 999))}",
    ]
    parts = [pick(kinds) for _ in range(int(rng.integers(1, 4)))]
    if words:
        for _ in range(int(rng.integers(0, 5))):
            parts.insert(int(rng.integers(len(parts) + 1)), pick(words))
    text = " ".join(parts)
    if rng.random() < 0.3:
        says = pick(["he said", "she said", "they said", "he wrote", "said Mr. Brown"])
        text = f'" {text} , " {says} .'
    elif rng.random() < 0.3:
        text += f" {pick(['.', ',', ';', ':', '?', '!'])}"
    return text


@dataclass(frozen=True)
class TextPool:
    """Corpus lines to synthesise from (already filtered) and their words, for snippets."""

    lines: tuple[str, ...]
    words: tuple[str, ...]

    @classmethod
    def from_lines(cls, lines: Sequence[str]) -> TextPool:
        lines = tuple(line for line in lines if line.strip())
        if not lines:
            raise DatasetError("no text lines to synthesise from")
        words = tuple(sorted({w for line in lines for w in line.split() if w.isalpha()}))
        return cls(lines=lines, words=words)

    def sample(self, rng: np.random.Generator, random_fraction: float) -> str:
        """One label: a corpus line, a part of one, two joined, or a random snippet."""
        if rng.random() < random_fraction:
            return random_snippet(rng, self.words)
        line = self.lines[int(rng.integers(len(self.lines)))]
        r = rng.random()
        if r < 0.2:
            # Short pieces: single words and phrases are what lines of real pages end with.
            tokens = line.split()
            n = int(rng.integers(1, min(5, len(tokens)) + 1))
            start = int(rng.integers(len(tokens) - n + 1))
            piece = " ".join(tokens[start : start + n])
            if any(c.isalnum() for c in piece):
                return piece
        if r < 0.3:
            other = self.lines[int(rng.integers(len(self.lines)))].split()
            tokens = line.split() + other
            return " ".join(tokens[: int(rng.integers(len(line.split()), len(tokens) + 1))])
        return line


# --- rendering -------------------------------------------------------------------------------


def _glyph(font: ImageFont.FreeTypeFont, ch: str, stroke: int) -> tuple[np.ndarray, float, float]:
    """A glyph's mask, uint8 (h, w), and where its origin (left end of the baseline) lies in it."""
    left, top, right, bottom = font.getbbox(ch, anchor="ls", stroke_width=stroke)
    pad = 2
    im = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ox, oy = pad - left, pad - top
    ImageDraw.Draw(im).text((ox, oy), ch, font=font, fill=255, anchor="ls", stroke_width=stroke,
                            stroke_fill=255)  # fmt: skip
    return np.asarray(im), float(ox), float(oy)


def _paste_max(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    h, w = patch.shape
    ch, cw = canvas.shape
    xa, ya, xb, yb = max(0, x), max(0, y), min(cw, x + w), min(ch, y + h)
    if xb > xa and yb > ya:
        region = canvas[ya:yb, xa:xb]
        np.maximum(region, patch[ya - y : yb - y, xa - x : xb - x], out=region)


def _layout(
    text: str, font_path: str, style: FontStyle, rng: np.random.Generator
) -> tuple[np.ndarray, float, float]:
    """Glyphs placed along a drifting baseline at supersampled scale.

    Returns the ink mask uint8 (H, W), the baseline row and the ink's right end (px).
    """
    xh = style.line.x_height * _SUPERSAMPLE
    font = _font(font_path, max(4, round(xh / _x_height_ratio(font_path))))
    stroke = max(0, round(style.weight * 0.12 * xh / 2))
    ascent, descent = font.getmetrics()
    # Prefix advances keep the font's kerning and joins; spacing noise accumulates like a hand's.
    advances = np.array([font.getlength(text[:i]) for i in range(len(text) + 1)])
    spaces = np.cumsum([0] + [c == " " for c in text])
    space_w = font.getlength(" ")
    extra = np.arange(len(text) + 1) * style.letter_spacing * xh
    extra += np.cumsum(np.concatenate([[0], rng.normal(0, style.spacing_jitter * xh, len(text))]))
    # Narrow fonts with tight spacing run words together; a label's space must stay visible.
    gap = max(style.word_spacing * space_w, 0.6 * xh - style.letter_spacing * xh)
    xs = advances + extra + spaces * (gap - space_w)
    pad = int(2 * xh + 4 * stroke)
    width = int(max(xs.max(), xs[-1] + xh) + 2 * pad)
    height = int(ascent + descent + 2 * pad)
    base = pad + ascent
    canvas = np.zeros((height, width), np.uint8)
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        glyph, ox, oy = _glyph(font, ch, stroke)
        x = pad + xs[i]
        drift = style.drift * xh * np.sin(2 * np.pi * xs[i] / (style.drift_period * xh)
                                          + style.drift_phase)  # fmt: skip
        y = base + drift + rng.normal(0, style.char_jitter * xh)
        angle = rng.normal(0, style.char_rotation)
        scale = float(np.exp(rng.normal(0, style.char_scale)))
        # Turn and scale about the glyph's origin, then place that origin at (x, y).
        m = cv2.getRotationMatrix2D((ox, oy), angle, scale)
        corners = np.array([[0, 0, 1], [glyph.shape[1], 0, 1], [0, glyph.shape[0], 1],
                            [glyph.shape[1], glyph.shape[0], 1]], np.float64) @ m.T  # fmt: skip
        lo = np.floor(corners.min(axis=0) - 1)
        hi = np.ceil(corners.max(axis=0) + 1)
        m[:, 2] -= lo
        size = (int(hi[0] - lo[0]), int(hi[1] - lo[1]))
        warped = cv2.warpAffine(glyph, m, size, flags=cv2.INTER_LINEAR)
        _paste_max(canvas, warped, int(round(x - ox + lo[0])), int(round(y - oy + lo[1])))
    if style.weight < 0:
        k = max(1, round(-style.weight * 0.12 * xh))
        if k >= 2:
            canvas = cv2.erode(canvas, np.ones((k, k), np.uint8))
    return canvas, float(base), float(pad + xs[-1])


def render_font_line(
    text: str,
    font_path: str | Path,
    rng: np.random.Generator,
    style: FontStyle | None = None,
    clean_fraction: float = 0.25,
) -> np.ndarray:
    """Render ``text`` in the font at ``font_path`` as a handwritten line: uint8 (h, w).

    Dark ink on light paper; h is roughly 2.5-5 x ``style.line.x_height`` plus margins (14-40
    px when the style is sampled here from ``rng``). Raises DatasetError naming the characters
    when the font lacks a glyph for any of them.
    """
    path = str(font_path)
    missing = missing_glyphs(path, text)
    if missing:
        raise DatasetError(f"{path}: font has no glyph for {''.join(missing)!r}")
    if not text.strip():
        raise DatasetError(f"{path}: nothing to render in {text!r}")
    if style is None:
        style = sample_font_style(rng, clean_fraction)
    ls, s = style.line, _SUPERSAMPLE
    xh = ls.x_height * s
    ink, base, _ = _layout(text, path, style, rng)

    # Slant, stretch and turn about the middle of the baseline, into a canvas that holds it all.
    h, w = ink.shape
    centre = np.array([w / 2, base])
    a = np.radians(ls.rotation)
    turn = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    shear = np.array([[ls.stretch, -ls.slant], [0.0, 1.0]])
    lin = turn @ shear
    corners = (np.array([[0, 0], [w, 0], [0, h], [w, h]]) - centre) @ lin.T
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    m = np.hstack([lin, (-centre @ lin.T - lo)[:, None]])
    out_size = (int(np.ceil(hi[0] - lo[0])), int(np.ceil(hi[1] - lo[1])))
    ink = cv2.warpAffine(ink, m, out_size, flags=cv2.INTER_LINEAR)
    base_y = float(-lo[1])  # the baseline's middle after the warp

    rows = np.flatnonzero(ink.max(axis=1) > 64)
    cols = np.flatnonzero(ink.max(axis=0) > 64)
    if len(rows) == 0:
        raise DatasetError(f"{path}: {text!r} left no ink")
    y0 = int(rows[0] - ls.margin_top * xh)
    y1 = int(rows[-1] + 1 + ls.margin_bottom * xh)
    x0 = int(cols[0] - ls.margin_left * xh)
    x1 = int(cols[-1] + 1 + ls.margin_right * xh)
    # Crop with zero padding where the margins reach past the canvas.
    big = np.zeros((y1 - y0, x1 - x0), np.uint8)
    _paste_max(big, ink, -x0, -y0)
    width_ink = cols[-1] - cols[0] + 1
    for present, sign in ((ls.neighbour_above, -1), (ls.neighbour_below, 1)):
        if not present:
            continue
        # The same text one line pitch away, shifted sideways so it does not repeat the letters.
        dy = int(sign * ls.line_spacing * xh)
        dx = int(ls.neighbour_shift * width_ink)
        for shift in (dx, dx - width_ink - int(xh)):
            _paste_max(big, ink, -x0 + shift, -y0 + dy)

    out_w = max(8, round(big.shape[1] / s))
    out_h = max(8, round(big.shape[0] / s))
    alpha = cv2.resize(big, (out_w, out_h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    base_out = (base_y - y0) / s
    rule_ys = [base_out + (ls.rule_offset + k * ls.line_spacing) * ls.x_height for k in (-1, 0, 1)]
    return apply_page_style(alpha, ls.page, rng, rule_ys=rule_ys)


# --- datasets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthOptions:
    """How many lines to synthesise, base seed, worker processes, text mix."""

    count: int = 1000
    seed: int = 0
    workers: int = 2
    random_fraction: float = 0.12  # share of labels that are digit/punctuation-rich snippets
    clean_fraction: float = 0.25  # share of renderings that look like clean flatbed scans

    def validate(self) -> None:
        if self.count < 1:
            raise OptionsError(f"count must be >= 1, got {self.count}")
        if self.workers < 1:
            raise OptionsError(f"workers must be >= 1, got {self.workers}")
        for name in ("random_fraction", "clean_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise OptionsError(f"{name} must be in [0, 1], got {value}")


DEFAULTS = SynthOptions()


@dataclass(frozen=True)
class SynthCounts:
    """Images written, and samples skipped (no font could draw any text drawn for them)."""

    written: int
    skipped: int


def synth_sample(
    index: int, pool: TextPool, fonts: Sequence[Path], options: SynthOptions = DEFAULTS
) -> tuple[np.ndarray, str] | None:
    """Sample number ``index`` under ``options.seed``: image uint8 (h, w) and its label.

    The text and the font come from the sample's own generator, so the result does not depend on
    which process renders it. None when no font can draw any of 10 texts tried.
    """
    rng = line_rng(f"synth-{index}", 0, options.seed)
    for _ in range(10):
        label = pool.sample(rng, options.random_fraction)
        written = written_form(label)
        usable = [f for f in fonts if not missing_glyphs(f, written)]
        if not usable:
            label = fold_text(label)
            written = written_form(label)
            usable = [f for f in fonts if not missing_glyphs(f, written)]
        if usable and written.strip():
            font = usable[int(rng.integers(len(usable)))]
            image = render_font_line(written, font, rng, clean_fraction=options.clean_fraction)
            return image, label
    return None


_WORKER: dict[str, object] = {}


def _init_worker(pool: TextPool, fonts: list[Path], options: SynthOptions) -> None:
    # Each process is one of the workers we were given; OpenCV's own threads would oversubscribe.
    # (map_with_progress runs this in-process too when there is one worker.)
    cv2.setNumThreads(1)
    _WORKER.update(pool=pool, fonts=fonts, options=options)


def _synth_one(job: tuple[int, Path]) -> int:
    index, out_dir = job
    pool, fonts, options = _WORKER["pool"], _WORKER["fonts"], _WORKER["options"]
    result = synth_sample(index, pool, fonts, options)  # type: ignore[arg-type]
    if result is None:
        return 0
    image, label = result
    ok, png = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - a 2-D uint8 array always encodes
        raise DatasetError(f"synth-{index}: cannot encode image")
    write_atomic(out_dir / f"synth-{index:06d}.png", png.tobytes())
    write_atomic(out_dir / f"synth-{index:06d}.gt.txt", label + "\n")
    return 1


def synth_lines(
    pool: TextPool,
    fonts: Sequence[Path],
    out_dir: Path,
    options: SynthOptions = DEFAULTS,
    progress: Callable[[int, int], None] | None = None,
) -> SynthCounts:
    """Write ``options.count`` lines ``synth-NNNNNN.png`` + ``.gt.txt`` into ``out_dir``."""
    options.validate()
    if not fonts:
        raise DatasetError("no fonts to synthesise with")
    out_dir = make_out_dir(out_dir)
    jobs = [(i, out_dir) for i in range(options.count)]
    results = map_with_progress(
        _synth_one,
        jobs,
        options.workers,
        progress,
        chunksize=16,
        initializer=_init_worker,
        initargs=(pool, list(fonts), options),
    )
    written = 0
    try:
        for n in results:
            written += n
    except OSError as exc:
        raise DatasetError(f"{out_dir}: cannot write synthetic line ({exc})") from exc
    return SynthCounts(written=written, skipped=options.count - written)


def synth_dataset(
    fonts_dir: Path,
    text_file: Path,
    count: int,
    out_dir: Path,
    seed: int = DEFAULTS.seed,
    workers: int = DEFAULTS.workers,
    progress: Callable[[int, int], None] | None = None,
    iamondb: Path | None = None,
) -> SynthCounts:
    """Synthesise ``count`` lines from the fonts in ``fonts_dir`` into ``out_dir``.

    Text: the lines of ``text_file`` and, when ``iamondb`` (an IAM-OnDB folder) is given, its
    trainset transcriptions, with lines near its testset_v/testset_t text dropped from
    ``text_file``; plus digit/punctuation-rich snippets. Without ``iamondb`` the text is used
    unfiltered. Deterministic under ``seed`` whatever ``workers``.
    """
    options = SynthOptions(count=count, seed=seed, workers=workers)
    options.validate()
    fonts = list_fonts(fonts_dir)
    if iamondb is not None:
        lines = load_text_lines(text_file, iamondb).lines
        lines = lines + form_transcriptions(iamondb, ["trainset"])
    else:
        lines = read_text_lines(text_file)
    return synth_lines(TextPool.from_lines(lines), fonts, out_dir, options, progress)
