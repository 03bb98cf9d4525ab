"""Page cleaning before segmentation: illumination flattening, denoising, ruled-line removal,
deskew estimation and an analysis binarisation.

Everything here works on numpy ``uint8`` grayscale pages of shape ``(H, W)`` with dark ink on light
paper and returns arrays in the geometry of the input (nothing is rotated here: the caller decides
whether to rotate by :attr:`Preprocessed.skew_deg`, see :func:`rotate_page`).

Angle convention: ``skew_deg > 0`` means text lines rise to the right (the writing is turned
counter-clockwise as seen on screen); rotating the page by ``-skew_deg`` with :func:`rotate_page`
makes the lines horizontal.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from htrbatch.errors import InputError, OptionsError

# Pages are analysed at most this large (longest side, px) where only coarse structure matters:
# background estimation and skew search do not need full resolution and must stay fast.
_BACKGROUND_SIDE = 800
_SKEW_SIDE = 1000
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_LINE_BACKGROUND_KERNEL = 5  # px on the reduced copy (see clean_line)
_RULE_SIDE = 1400
_RULE_MAX_WOBBLE = 0.8  # px RMS off a quadratic, at the rule-analysis scale
_RULE_MIN_CLEAR = 0.7  # fraction of a rule's length with paper right above and below


@dataclass(frozen=True)
class PreprocessOptions:
    """How a page is cleaned. Lengths are in pixels of the input page unless said otherwise."""

    flatten: bool = True
    """Divide by an estimate of the paper (closing of the page) so paper becomes white."""
    background_frac: float = 1 / 25
    """Background kernel size as a fraction of the shorter page side (clipped to 15..151 px)."""
    denoise: bool = True
    """Median-filter the page when its estimated noise is above ``noise_sigma``."""
    noise_sigma: float = 4.0
    remove_rules: bool = True
    """Remove long thin horizontal/vertical lines (ruled paper, margins, form lines, underlines)."""
    rule_min_frac: float = 0.3
    """A ruled line spans at least this fraction of the page width (height for vertical lines)."""
    rule_max_thickness_frac: float = 0.004
    """... and is at most this thick, as a fraction of the longer page side (min 3 px): rules are
    printed hairlines, thinner than the writing's x-height on any usual page."""
    deskew: bool = True
    """Estimate the skew angle (the page itself is not rotated here)."""
    max_skew_deg: float = 10.0
    skew_step_deg: float = 0.05
    binarize: str = "sauvola"
    """Analysis binarisation: ``sauvola`` (local, unioned with a global Otsu cut) or ``otsu``."""
    sauvola_k: float = 0.2
    sauvola_window: int = 0
    """Odd window size; 0 picks one from the page size."""
    min_ink_contrast: float = 40.0
    """Pixels less than this much darker than the paper (255 after flattening) are never ink."""
    speck_area: int = 3
    """Connected ink components of at most this many pixels are dropped from the binarisation."""

    def validate(self) -> None:
        """Raise :class:`OptionsError` for values that cannot work."""
        if self.binarize not in ("sauvola", "otsu"):
            raise OptionsError(f"binarize must be 'sauvola' or 'otsu', got {self.binarize!r}")
        if not 0.0 <= self.max_skew_deg <= 45.0:
            raise OptionsError(f"max_skew_deg must be in [0, 45], got {self.max_skew_deg}")
        if self.skew_step_deg <= 0:
            raise OptionsError(f"skew_step_deg must be > 0, got {self.skew_step_deg}")
        if not 0.0 < self.rule_min_frac <= 1.0:
            raise OptionsError(f"rule_min_frac must be in (0, 1], got {self.rule_min_frac}")
        if self.background_frac <= 0:
            raise OptionsError(f"background_frac must be > 0, got {self.background_frac}")
        if self.sauvola_window < 0 or (self.sauvola_window and self.sauvola_window % 2 == 0):
            raise OptionsError(f"sauvola_window must be 0 or odd, got {self.sauvola_window}")


@dataclass
class Preprocessed:
    """Result of :func:`preprocess_page`; all arrays have the input's shape ``(H, W)``."""

    image: np.ndarray
    """Cleaned grayscale page, uint8 (H, W): paper ~255, dark ink, ruled lines painted out."""
    binary: np.ndarray
    """Analysis binarisation, bool (H, W), True = ink. For layout analysis, not recognition."""
    skew_deg: float
    """Estimated skew of the text lines in degrees (> 0: lines rise to the right)."""
    rule_mask: np.ndarray
    """bool (H, W): pixels that were painted out as ruled/margin lines."""
    noise_sigma: float
    """Estimated noise standard deviation of the page (gray levels) before denoising."""


def preprocess_page(gray: np.ndarray, options: PreprocessOptions | None = None) -> Preprocessed:
    """Clean a page and analyse it.

    Args:
        gray: uint8 (H, W) grayscale page, dark ink on light paper. Any size, including 1x1.
        options: what to do; defaults to :class:`PreprocessOptions()`.

    Returns:
        :class:`Preprocessed` with the cleaned page, its analysis binarisation (both (H, W)) and
        the skew angle.
    """
    options = options or PreprocessOptions()
    options.validate()
    gray = _check_gray(gray)
    h, w = gray.shape
    if min(h, w) < 3:
        # Too small for any neighbourhood operation: treat clearly dark pixels as ink.
        binary = gray.astype(np.float32) < 255.0 - options.min_ink_contrast
        empty = np.zeros_like(binary)
        return Preprocessed(gray.copy(), binary, 0.0, empty, 0.0)

    img, sigma = _flatten_denoise(gray, options)

    spread = paper_spread(img)
    # Faint marks (ruled lines are often light blue/grey) count here but not in the final binary.
    faint = _lut(img, _LEVELS_F32 < 255.0 - max(18.0, 4.0 * spread))
    skew = 0.0
    if options.deskew and options.max_skew_deg > 0:
        skew = estimate_skew(faint, options.max_skew_deg, options.skew_step_deg)
    del faint

    rule_mask = np.zeros((h, w), dtype=bool)
    if options.remove_rules and min(h, w) >= 16:
        bands_h, bands_v, thick = detect_rules(
            img, skew, options.rule_min_frac, options.rule_max_thickness_frac
        )
        if bands_h.any() or bands_v.any():
            img, rule_mask = _remove_rules(img, bands_h, bands_v, thick, spread)
        del bands_h, bands_v

    binary = binarize(img, options, spread)
    binary, edges = _clean_components(binary, options.speck_area)
    if edges.any():
        # Dark page surroundings and shadow wedges at the border are not writing.
        binary &= ~edges
        img = img.copy()
        img[cv2.dilate(edges.view(np.uint8), np.ones((5, 5), np.uint8)) > 0] = 255
    del edges
    if options.deskew and options.max_skew_deg > 0 and rule_mask.any():
        # Rules dominated the first estimate; the writing can run at its own angle across them.
        skew = estimate_skew(binary, options.max_skew_deg, options.skew_step_deg)
    return Preprocessed(img, binary, float(skew), rule_mask, float(sigma))


# Memory: pages can be 100+ megapixels, so nothing below keeps a float copy of a whole page when
# it can be helped. Per-pixel tests of a uint8 page go through a 256-entry table (cv2.LUT, one
# byte per pixel) computed with the very expression they replace, so results are bit-identical.
_LEVELS_F32 = np.arange(256, dtype=np.float32)
_LEVELS_I16 = np.arange(256, dtype=np.int16)
_PAINT_CHUNK = 1 << 18  # masked pixels per step in _paint_out
_LOOKUP_CHUNK = 1 << 20  # pixels per step in _lookup
_RULE_CHUNK = 1 << 20  # pixels per step when levelling rules in _remove_rules


def _lut(img: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[img]`` for a uint8 (H, W) page and a bool (256,) table: bool (H, W)."""
    return cv2.LUT(img, table.astype(np.uint8)).view(bool)


def _remove_rules(
    img: np.ndarray, bands_h: np.ndarray, bands_v: np.ndarray, thick: float, spread: float
) -> tuple[np.ndarray, np.ndarray]:
    """Paint the ruled lines inside ``bands_h``/``bands_v`` (from :func:`detect_rules`) out of
    ``img`` and return ``(img, rule_mask)``.

    Where a stroke crosses a (usually lighter) rule the pixel is darker than the rule itself:
    those are kept so crossing letters are not erased. The rule's own darkness is the typical
    local minimum across it (its core), measured where the band is darker than its surroundings.
    """
    h, w = img.shape
    k = 2 * int(np.ceil(thick)) + 3
    local_bg = cv2.morphologyEx(img, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    # A closing is never below the page, so the uint8 difference is exact (no int16 copies).
    dark = _lut(cv2.subtract(local_bg, img), _LEVELS_I16 > max(10.0, 3.0 * spread))
    del local_bg
    core = cv2.erode(img, np.ones((7, 7), np.uint8))
    rule_mask = np.zeros((h, w), dtype=bool)
    # Each band is filled across its rule: horizontal rules from above and below, vertical ones
    # from left and right. Ruled lines and a margin line differ in colour, so each kind gets its
    # own darkness level.
    crossing = bands_h & bands_v  # where two rules cross it is darker than either
    for band, vertical in ((bands_h, True), (bands_v, False)):
        if not (band & dark).any():
            continue
        # The rule's level is averaged along the rule only (along rows for horizontal rules,
        # columns for vertical ones), so rows/columns are independent: they are done a band of
        # them at a time, and only those the rule touches, instead of as several float copies of
        # the whole page.
        idx = np.flatnonzero(band.any(axis=1 if vertical else 0))
        step = max(1, _RULE_CHUNK // (w if vertical else h))
        # Rule darkness varies along the page (shading, print): average the core along the
        # rule's direction over about a tenth of the page.
        k = max(15, (w if vertical else h) // 10) | 1
        ksize = (k, 1) if vertical else (1, k)
        paint = np.zeros((h, w), dtype=bool)
        for c in range(0, len(idx), step):
            sel = idx[c : c + step]

            def take(a: np.ndarray, sel: np.ndarray = sel, vertical: bool = vertical) -> np.ndarray:
                return a[sel] if vertical else a[:, sel]

            on_rule = (take(band) & take(dark)).astype(np.float32)
            num = cv2.blur(take(core).astype(np.float32) * on_rule, ksize)
            den = cv2.blur(on_rule, ksize)
            level = np.where(den > 0.02, num / np.maximum(den, 1e-6), 255.0)
            margin = np.maximum(25.0, 0.35 * (255.0 - level))
            keep = (take(img).astype(np.float32) < level - margin) & ~take(crossing)
            if vertical:
                paint[sel] = take(band) & ~keep
            else:
                paint[:, sel] = take(band) & ~keep
        img = _paint_out(img, paint, vertical=vertical)
        rule_mask |= paint
    return img, rule_mask


def _flatten_denoise(
    gray: np.ndarray, options: PreprocessOptions, max_kernel: int | None = None
) -> tuple[np.ndarray, float]:
    """The page flattened and, where noisy, median-filtered (as ``options`` say), and its noise
    sigma before denoising. ``gray`` is at least 3x3; ``max_kernel`` as in
    :func:`flatten_illumination`."""
    h, w = gray.shape
    img = (
        flatten_illumination(gray, options.background_frac, max_kernel)
        if options.flatten
        else gray.copy()
    )
    sigma = estimate_noise(img)
    if options.denoise and sigma > options.noise_sigma:
        img = cv2.medianBlur(img, 3)
        if sigma > 3 * options.noise_sigma:
            # Heavy grain survives one 3x3 median; a second, wider pass still keeps 2 px strokes.
            img = cv2.medianBlur(img, 5 if min(h, w) >= 5 else 3)
    return img, sigma


def clean_line(gray: np.ndarray, options: PreprocessOptions | None = None) -> np.ndarray:
    """Clean an image that is one text line (``--segmenter none``) for recognition.

    Only the first steps of :func:`preprocess_page`: illumination flattening and, where the
    image is noisy, denoising. Ruled-line removal and the whitening of dark components at the
    border are left out: on a line crop they hit the writing itself (underlines, strokes cut by
    the crop's edge). Measured on 400 testset_v lines with the shipped model (docs/benchmarks.md,
    Recognition accuracy > Cleaning of line images): better than the raw image and than the
    full page cleaning.

    Args:
        gray: uint8 (H, W) grayscale line, dark ink on light paper.
        options: the flatten/denoise settings of :class:`PreprocessOptions` apply.

    Returns:
        uint8 (H, W), a new array.
    """
    options = options or PreprocessOptions()
    options.validate()
    gray = _check_gray(gray)
    if min(gray.shape) < 3:
        return gray.copy()
    # The background of a line is estimated on a copy small enough for a 5x5 closing and
    # median (OpenCV's fast path): a 15x15 median at full size was ~80 % of the cleaning time
    # of a line (docs/benchmarks.md, "Speed against Tesseract").
    return _flatten_denoise(gray, options, max_kernel=_LINE_BACKGROUND_KERNEL)[0]


def _check_gray(gray: np.ndarray) -> np.ndarray:
    if not isinstance(gray, np.ndarray):
        raise InputError("<array>", f"expected a numpy array, got {type(gray).__name__}")
    # dtype and size first: OpenCV's colour conversion asserts on both
    if gray.dtype != np.uint8:
        raise InputError("<array>", f"expected dtype uint8, got {gray.dtype}")
    if gray.size == 0:
        raise InputError("<array>", f"empty image of shape {gray.shape}")
    if gray.ndim == 3 and gray.shape[2] in (3, 4):
        gray = cv2.cvtColor(np.ascontiguousarray(gray[:, :, :3]), cv2.COLOR_BGR2GRAY)
    if gray.ndim != 2:
        raise InputError("<array>", f"expected a (H, W) grayscale image, got shape {gray.shape}")
    return np.ascontiguousarray(gray)


def _odd(v: float, lo: int = 1) -> int:
    n = max(lo, int(round(v)))
    return n if n % 2 == 1 else n + 1


def flatten_illumination(
    gray: np.ndarray, background_frac: float = 1 / 25, max_kernel: int | None = None
) -> np.ndarray:
    """Divide a page by its estimated paper brightness so paper becomes ~255.

    The paper is estimated by a grey closing (max then min filter) that is wider than any stroke,
    computed on a downscaled copy for speed, then smoothed: shadows, vignetting and gradients are
    slower than strokes, so they end up in the estimate while ink does not.

    Args:
        gray: uint8 (H, W).
        background_frac: kernel size as a fraction of the shorter side.
        max_kernel: if given (odd, >= 3), the copy the background is estimated on is made
            small enough that the kernel is at most this many of its pixels (None: only pages
            longer than 800 px are reduced, to 800).

    Returns:
        uint8 (H, W), the flattened page.
    """
    h, w = gray.shape
    scale = min(1.0, _BACKGROUND_SIDE / max(h, w))
    k_full = float(np.clip(min(h, w) * background_frac, 15, 151))
    if max_kernel is not None:
        scale = min(scale, max_kernel / k_full)
    small = gray
    if scale < 1.0:
        small = cv2.resize(
            gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    k = _odd(k_full * scale, lo=3)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    # A median (not a mean) removes the closing's blockiness but keeps sharp shadow edges sharp,
    # so the page is not darkened along them.
    bg = cv2.medianBlur(bg, k)
    if scale < 1.0:
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    np.maximum(bg, 1, out=bg)
    # The closing follows the brightest noise, so paper lands a little below 255 after the
    # division; most pixels are paper, so scaling their median to 255 puts it there. The median
    # is taken on a subsample, then one saturating division does both steps.
    step_y, step_x = max(1, h // 500), max(1, w // 500)
    sub = gray[::step_y, ::step_x].astype(np.float32) / bg[::step_y, ::step_x]
    med = float(np.median(sub)) * 255.0
    gain = 255.0 / med if med > 64 else 1.0
    return cv2.divide(gray, bg, scale=255.0 * gain)


def paper_spread(gray: np.ndarray) -> float:
    """Robust spread (gray levels) of a flattened page around its paper level: 1.4826 x MAD.

    Unlike :func:`estimate_noise` this also sees low-frequency grain (blurred or JPEG-compressed
    sensor noise, leftover shading), which is what decides how faint a mark can be told apart.

    Args:
        gray: uint8 (H, W), mostly paper.
    """
    h, w = gray.shape
    v = gray[:: max(1, h // 500), :: max(1, w // 500)].astype(np.float32)
    med = np.median(v)
    return float(1.4826 * np.median(np.abs(v - med)))


def estimate_noise(gray: np.ndarray) -> float:
    """Noise sigma (gray levels) of a page, after Immerkaer (1996).

    The 3x3 kernel [[1,-2,1],[-2,4,-2],[1,-2,1]] cancels smooth image content; on Gaussian noise
    its response has standard deviation 6 sigma. The median absolute response (robust to ink
    edges, which are few) turns that into sigma.

    Args:
        gray: uint8 (H, W), at least 3x3.
    """
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.int32)
    # Subsample: a few hundred thousand responses give a stable estimate on any page size. Only
    # the sampled (inner) pixels are filtered, in exact integers, instead of a float32 response
    # of the whole page.
    h, w = gray.shape
    step = max(1, int(np.sqrt(gray.size / 250_000)))
    if step == 1:
        # Every inner pixel: one integer filter (int16 holds +-16 x 255 exactly) and the median
        # read off a histogram of the responses, as np.median would give it (mean of the two
        # middle values when their count is even); 9x faster than the loop below on a line.
        resp16 = cv2.filter2D(gray, cv2.CV_16S, _NOISE_KERNEL)[1 : h - 1, 1 : w - 1]
        counts = np.cumsum(np.bincount(np.abs(resp16).ravel()))
        n = int(counts[-1])
        lo = int(np.searchsorted(counts, (n - 1) // 2, side="right"))
        hi = int(np.searchsorted(counts, n // 2, side="right"))
        return float(1.4826 * np.float32((lo + hi) / 2) / 6.0)
    ys, xs = np.arange(1, h - 1, step), np.arange(1, w - 1, step)
    resp = np.zeros((len(ys), len(xs)), np.int32)
    for dy in (-1, 0, 1):
        rows = gray[ys + dy]
        for dx in (-1, 0, 1):
            resp += kernel[dy + 1, dx + 1] * rows[:, xs + dx].astype(np.int32)
    # The median of the integer responses as the float32 it was when the whole page was filtered.
    return float(1.4826 * np.float32(np.median(np.abs(resp))) / 6.0)


def estimate_skew(mask: np.ndarray, max_deg: float = 10.0, step_deg: float = 0.05) -> float:
    """Estimate the text-line angle by maximising projection-profile energy over angles.

    For each candidate angle the ink pixels are projected onto the direction perpendicular to the
    lines; when the angle matches, ink collapses into a few dense rows and the sum of squared bin
    counts is largest. A coarse search (0.5 deg) is refined around the best angle.

    Args:
        mask: bool (H, W), True = ink (faint marks included: ruled lines help here).
        max_deg: search range is [-max_deg, +max_deg].
        step_deg: final resolution.

    Returns:
        Angle in degrees, > 0 when the lines rise to the right; 0.0 when there is too little ink.
    """
    h, w = mask.shape
    scale = min(1.0, _SKEW_SIDE / max(h, w))
    small = mask
    if scale < 1.0:
        m8 = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
        small = cv2.resize(
            m8 * np.uint8(255),
            (max(1, round(w * scale)), max(1, round(h * scale))),
            interpolation=cv2.INTER_AREA,
        )
        small = small > 64
    ys, xs = np.nonzero(small)
    if len(ys) < 30 or max_deg <= 0:
        return 0.0
    if len(ys) > 300_000:
        pick = np.random.default_rng(0).choice(len(ys), 300_000, replace=False)
        ys, xs = ys[pick], xs[pick]
    xs = xs.astype(np.float64) - small.shape[1] / 2
    ys = ys.astype(np.float64)

    def energy(deg: float) -> float:
        t = np.deg2rad(deg)
        # Row of each ink pixel after rotating the page by -deg (lines rising by deg become flat).
        r = ys * np.cos(t) + xs * np.sin(t)
        hist = np.bincount(np.round(r - r.min()).astype(np.int64))
        return float(np.dot(hist, hist))

    coarse = np.arange(-max_deg, max_deg + 1e-9, 0.5)
    scores = np.array([energy(a) for a in coarse])
    best = float(coarse[int(np.argmax(scores))])
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, step_deg)
    fine = fine[np.abs(fine) <= max_deg + 1e-9]
    fscores = np.array([energy(a) for a in fine])
    best = float(fine[int(np.argmax(fscores))])
    # A flat energy curve (a few words, a blob) carries no angle information; do not rotate.
    if fscores.max() < 1.02 * energy(0.0):
        return 0.0
    return round(best, 3)


def rotation_matrix(shape: tuple[int, int], angle_deg: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Affine map that rotates an (H, W) image by ``angle_deg`` (counter-clockwise on screen)
    about its centre onto a canvas large enough to hold all of it.

    Returns:
        ``(M, (new_h, new_w))`` with M a float64 (2, 3) matrix mapping input (x, y) to output.
    """
    h, w = shape
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    new_w = int(np.ceil(h * sin + w * cos - 1e-6))
    new_h = int(np.ceil(h * cos + w * sin - 1e-6))
    m[0, 2] += new_w / 2.0 - w / 2.0
    m[1, 2] += new_h / 2.0 - h / 2.0
    return m, (new_h, new_w)


def rotate_page(
    img: np.ndarray, angle_deg: float, fill: int = 255, nearest: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate an (H, W) image by ``angle_deg`` (counter-clockwise on screen) without cropping.

    To deskew a page pass ``-skew_deg``. Bool images are rotated with nearest neighbour.

    Returns:
        ``(rotated, M)``: the rotated (H', W') image of the same dtype and the (2, 3) matrix
        mapping input (x, y) to rotated (x, y).
    """
    m, (nh, nw) = rotation_matrix(img.shape[:2], angle_deg)
    if abs(angle_deg) < 1e-6:
        return img.copy(), m
    is_bool = img.dtype == bool
    src = img.view(np.uint8) if is_bool else img
    interp = cv2.INTER_NEAREST if (nearest or is_bool) else cv2.INTER_LINEAR
    out = cv2.warpAffine(
        src, m, (nw, nh), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=fill
    )
    return (out > 0 if is_bool else out), m


def detect_rules(
    gray: np.ndarray, skew_deg: float = 0.0, min_frac: float = 0.3, max_thick_frac: float = 0.004
) -> tuple[np.ndarray, np.ndarray, float]:
    """Find long thin horizontal and vertical lines that are not writing.

    Thin dark lines are picked out with a black top-hat across the rule direction (a closing
    that fills anything thinner than the kernel, minus the page), which does not depend on the
    paper's brightness, so faint rules in shadows are found too. Then, in the deskewed frame
    where rules parallel to the text are axis-aligned, a short directional closing bridges dashes,
    a directional opening keeps only straight runs, thick parts (text blobs, shadow edges) are
    removed, collinear pieces cut by letters are rejoined, and a component counts as a rule when
    it spans ``min_frac`` of the page and is present along most of that span. Each rule's centre
    line (fitted where no letter thickens it) is drawn back at full resolution as a band a little
    wider than the rule. Analysis runs at most ``_RULE_SIDE`` px on the longer side: rules are
    long, so resolution matters little there and time a lot.

    Args:
        gray: uint8 (H, W) flattened page.
        skew_deg: text angle from :func:`estimate_skew`.
        min_frac: minimum rule length as a fraction of the page width/height.
        max_thick_frac: maximum thickness as a fraction of the longer side (at least 3 px).

    Returns:
        ``(horizontal, vertical, thickness)``: bool (H, W) bands around the horizontal and the
        vertical rules (a few pixels wider than the rules) and the largest rule thickness in input
        pixels (0.0 when no rule was found).
    """
    h, w = gray.shape
    scale = min(1.0, _RULE_SIDE / max(h, w))
    small = gray
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    rot, m = rotate_page(small, -skew_deg, fill=255)
    inv = cv2.invertAffineTransform(m)
    max_thick = max(3.0, max_thick_frac * max(sh, sw))
    tk = int(max_thick) + 1
    found = [np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)]  # vertical, horizontal
    thickest = 0.0
    for axis in (1, 0):
        # Vertical rules are found as horizontal ones in the transposed map.
        src = rot if axis == 1 else np.ascontiguousarray(rot.T)
        tophat = cv2.morphologyEx(src, cv2.MORPH_BLACKHAT, np.ones((tk + 2, 1), np.uint8))
        t = tophat[:: max(1, tophat.shape[0] // 400), :: max(1, tophat.shape[1] // 400)]
        delta = max(8.0, 4.0 * 1.4826 * float(np.median(np.abs(t - np.median(t)))) + 2.0)
        marks = (tophat > delta).astype(np.uint8)
        length = src.shape[1]
        # Rules are long on the page's scale, not just on its short side: in a line image the
        # letters' stems span much of the height but are no vertical rules.
        other = max(sw if axis == 1 else sh, 0.5 * max(sw, sh))
        gap = max(3, int(length / 150))
        run = max(15, int(length / 30))
        closed = cv2.morphologyEx(marks, cv2.MORPH_CLOSE, np.ones((1, gap), np.uint8))
        opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
        # Drop what is thick across the rule direction (blobs of text, shadow edges): otherwise
        # a rule touching such a blob fails the thickness test together with it.
        # Marks include the rule's antialiased rim (a pixel each side), hence the + 2.
        thick_part = cv2.morphologyEx(opened, cv2.MORPH_OPEN, np.ones((tk + 2, 1), np.uint8))
        opened = cv2.morphologyEx(
            opened & (1 - thick_part), cv2.MORPH_OPEN, np.ones((1, run), np.uint8)
        )
        # Letters written across a rule cut it into pieces; rejoin collinear pieces.
        joined = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, np.ones((1, 3 * run), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        if n <= 1:
            continue
        span = stats[1:, cv2.CC_STAT_WIDTH]
        long_enough = np.nonzero(span >= min_frac * other)[0] + 1
        if len(long_enough) == 0:
            # Most pages have no rule: skip the full-page passes below (a third of the time).
            continue
        # A rule is mostly present along its span; straight bits of writing joined up are not.
        # Coverage is counted only inside the long components' boxes, which is all it needs.
        tops = stats[long_enough, cv2.CC_STAT_TOP]
        y0, y1 = int(tops.min()), int((tops + stats[long_enough, cv2.CC_STAT_HEIGHT]).max())
        ys, xs = np.nonzero(opened[y0:y1])
        cols = np.unique(labels[ys + y0, xs].astype(np.int64) * length + xs)
        covered = np.bincount(cols // length, minlength=n)[1:]
        keep = long_enough[covered[long_enough - 1] >= 0.6 * span[long_enough - 1]]
        if len(keep) == 0:
            continue
        for xs_r, ys_r, thick in _rule_lines(labels * (opened > 0), keep, max_thick + 2, marks):
            if axis == 0:
                xs_r, ys_r = ys_r, xs_r  # back from the transposed map
            # Rotated small map -> small input map -> full resolution (pixel centres).
            pts = np.stack([xs_r, ys_r, np.ones_like(xs_r)], axis=1)  # (N, 3) homogeneous
            pts = pts @ inv.T  # (N, 3) @ (3, 2) -> (N, 2)
            pts = (pts + 0.5) / scale - 0.5
            width = thick / scale
            thickest = max(thickest, width)
            # Wide enough to cover the rule, its antialiased rim and residual misfit.
            pen = int(np.ceil(width + 2.0 / scale + 2))
            # polylines wants (N, 1, 2) int32; shift=2 gives quarter-pixel vertex precision.
            poly = np.round(pts * 4).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(found[axis], [poly], False, 1, pen, lineType=cv2.LINE_8, shift=2)
    # Drawn with value 1 on zeros, so the maps are already 0/1: view them as bool, no copies.
    return found[1].view(bool), found[0].view(bool), thickest


def _rule_lines(
    labels: np.ndarray, keep: np.ndarray, max_thick: float, marks: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Centre lines of horizontal rule components.

    Args:
        labels: int32 (h, w) component labels (0 off the rule pieces).
        keep: label ids that are rules.
        max_thick: rules thicker than this (median over their columns) are dropped.

    Returns:
        Per rule ``(xs, ys, thickness)``: float64 (N,) centre points sampled along the rule and
        its median thickness (px).
    """
    h, w = labels.shape
    lut = np.zeros(labels.max() + 1, np.int64)
    lut[keep] = np.arange(1, len(keep) + 1)
    ys, xs = np.nonzero(lut[labels])
    comp = lut[labels[ys, xs]] - 1
    # Top and bottom row of each (rule, column) pair; flat index comp * w + x.
    key = comp * w + xs
    top = np.full(len(keep) * w, h, np.int64)
    bot = np.full(len(keep) * w, -1, np.int64)
    np.minimum.at(top, key, ys)
    np.maximum.at(bot, key, ys)
    top = top.reshape(len(keep), w)  # (rules, columns)
    bot = bot.reshape(len(keep), w)
    out = []
    for i in range(len(keep)):
        cols = np.nonzero(bot[i] >= 0)[0]
        if len(cols) == 0:
            continue
        run = bot[i, cols] - top[i, cols] + 1
        t = float(np.median(run))
        if t > max_thick:
            continue
        # Columns where letters thicken the run do not say where the rule is.
        clean = run <= 1.5 * t + 1
        centre = (top[i, cols[clean]] + bot[i, cols[clean]]) / 2.0
        if clean.sum() < 3:
            continue
        cc = cols[clean]
        # A rule is straight (a gentle bow at most, from lens or paper curl), and has paper just
        # above and below along most of its length. Baselines of joined-up writing that survive
        # the morphology wander with the letters and have letters on one side.
        fit = np.polyval(np.polyfit(cc, centre, 2), cc)
        wobble = float(np.sqrt(np.mean((centre - fit) ** 2)))
        off = int(np.ceil(t / 2 + 2))
        row = np.round(centre).astype(np.int64)
        clear = (marks[np.clip(row - off, 0, h - 1), cc] == 0) & (
            marks[np.clip(row + off, 0, h - 1), cc] == 0
        )
        # A very straight line across most of the page is a rule even with writing pressed
        # against it along much of its length (a margin line, text starting right at it).
        long_straight = wobble <= 0.3 and cols[-1] - cols[0] >= 0.6 * w
        if not long_straight and (wobble > _RULE_MAX_WOBBLE or clear.mean() < _RULE_MIN_CLEAR):
            continue
        span = np.arange(cols[0], cols[-1] + 1, 4, dtype=np.float64)
        span = np.append(span, cols[-1]) if span[-1] != cols[-1] else span
        out.append((span, np.interp(span, cols[clean], centre), t))
    return out


def _paint_out(img: np.ndarray, mask: np.ndarray, vertical: bool, max_run: int = 64) -> np.ndarray:
    """Fill masked pixels by linear interpolation across their rule.

    Each masked pixel takes the values of the nearest unmasked pixels above and below it
    (``vertical``, for horizontal rules) or left and right of it (for vertical rules). Paper next
    to a rule is white after flattening, and a stroke that crosses the rule has ink on both
    sides, so it gets reconnected. Only masked pixels are visited, so cost follows the rules'
    area rather than the page's.

    Args:
        img: uint8 (H, W).
        mask: bool (H, W) pixels to fill.

    Returns:
        uint8 (H, W) copy with masked pixels filled (paper, 255, where no end is found).
    """
    if not mask.any():
        return img
    h, w = img.shape
    pad = max_run + 1
    # Padded flat mask: a walk of up to max_run steps never leaves the array, so no bounds checks.
    flat = np.pad(mask, pad, constant_values=False).ravel()
    wp = w + 2 * pad
    dy, dx = (1, 0) if vertical else (0, 1)
    stride = dy * wp + dx
    out = img.copy()
    where = np.flatnonzero(mask)
    # Each pixel's fill depends only on the mask and the input: a chunk of pixels at a time keeps
    # the per-pixel index arrays (~60 bytes a pixel) small on big ruled pages.
    for c in range(0, len(where), _PAINT_CHUNK):
        ys, xs = np.divmod(where[c : c + _PAINT_CHUNK], w)
        start = (ys + pad) * wp + (xs + pad)
        steps = []
        for sign in (-1, 1):
            k_of = np.zeros(len(ys), dtype=np.int64)
            todo = np.arange(len(ys))
            for k in range(1, max_run + 1):
                done = ~flat[start[todo] + sign * k * stride]
                k_of[todo[done]] = k
                todo = todo[~done]
                if len(todo) == 0:
                    break
            steps.append(k_of)
        lo, hi = steps
        # Ends must be found and inside the image; a rule along the border has paper on one side.
        ok_lo = (lo > 0) & (ys - lo * dy >= 0) & (xs - lo * dx >= 0)
        ok_hi = (hi > 0) & (ys + hi * dy < h) & (xs + hi * dx < w)
        val = np.full(len(ys), 255.0)
        both = ok_lo & ok_hi
        a = img[ys[both] - lo[both] * dy, xs[both] - lo[both] * dx].astype(np.float64)
        b = img[ys[both] + hi[both] * dy, xs[both] + hi[both] * dx].astype(np.float64)
        val[both] = a + (b - a) * (lo[both] / (lo[both] + hi[both]))
        one = ok_lo & ~ok_hi
        val[one] = img[ys[one] - lo[one] * dy, xs[one] - lo[one] * dx]
        one = ok_hi & ~ok_lo
        val[one] = img[ys[one] + hi[one] * dy, xs[one] + hi[one] * dx]
        out[ys, xs] = np.clip(np.round(val), 0, 255).astype(np.uint8)
    return out


def binarize(
    img: np.ndarray, options: PreprocessOptions | None = None, spread: float = 0.0
) -> np.ndarray:
    """Analysis binarisation of a flattened page.

    Sauvola adapts to local contrast; it hollows out wide dark strokes, so it is unioned with a
    global Otsu cut. Pixels within ``min_ink_contrast`` of white are never ink, which keeps blank
    and noisy paper empty.

    Args:
        img: uint8 (H, W), paper ~255.
        spread: paper spread from :func:`paper_spread`; marks within 5 spreads of white are
            grain, not ink.

    Returns:
        bool (H, W), True = ink.
    """
    options = options or PreprocessOptions()
    # Tests of the uint8 page go through tables (see _lut), made again when needed rather than
    # kept; a float copy of the page only while it is needed.
    guard_table = _LEVELS_F32 < 255.0 - max(options.min_ink_contrast, 5.0 * spread)
    guard = _lut(img, guard_table)
    if not guard.any():
        return guard
    otsu_t, _ = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    glob_table = _LEVELS_F32 <= otsu_t
    if options.binarize == "otsu":
        return _lut(img, glob_table) & guard
    del guard
    f = img.astype(np.float32)
    h, w = img.shape
    win = options.sauvola_window or _odd(np.clip(min(h, w) / 40, 15, 61))
    win = min(win, _odd(min(h, w) - 1 if min(h, w) % 2 == 0 else min(h, w)))
    # Local mean and deviation over a window of >= 15 px vary slowly: compute them on a copy
    # shrunk by up to win/8 and interpolate back, which is several times faster on big pages.
    d = max(1, win // 8)
    small = f
    if d > 1:
        small = cv2.resize(f, (max(1, w // d), max(1, h // d)), interpolation=cv2.INTER_AREA)
    del f
    sw_ = max(1, _odd(win / d) if d > 1 else win)
    mean = cv2.boxFilter(small, -1, (sw_, sw_), borderType=cv2.BORDER_REFLECT)
    sqmean = cv2.boxFilter(small * small, -1, (sw_, sw_), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(sqmean - mean * mean, 0.0))
    thresh = mean * (1.0 + options.sauvola_k * (std / 128.0 - 1.0))
    del small, mean, sqmean, std
    if d > 1:
        thresh = cv2.resize(thresh, (w, h), interpolation=cv2.INTER_LINEAR)
    # uint8 < float32 compares in float32 chunk by chunk (numpy's buffered casting), which is
    # what a whole float32 copy of the page gave; the rest is done in place.
    ink = np.less(img, thresh)
    del thresh
    ink |= _lut(img, glob_table)
    ink &= _lut(img, guard_table)
    return ink


def _clean_components(
    binary: np.ndarray, speck_area: int, min_frac: float = 0.2, min_fill: float = 0.4
) -> tuple[np.ndarray, np.ndarray]:
    """Drop specks and find border blobs in one labelling pass.

    Border blobs touch the image border, are large and mostly solid: desk or page edges and
    shadow wedges. Writing is stroke-like (fills well under half its box) even where a line image
    cuts through it.

    Args:
        binary: bool (H, W) ink.
        speck_area: components of at most this many pixels are specks.

    Returns:
        ``(binary, blobs)``: bool (H, W) ink without specks, and bool (H, W) border blobs (still
        included in the first).
    """
    h, w = binary.shape
    u8 = binary.view(np.uint8) if binary.dtype == bool else binary.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(u8, connectivity=8)
    if n <= 1:
        return binary, np.zeros_like(binary)
    x, y, bw, bh, area = (stats[1:, i] for i in range(5))
    touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    big = (bw >= min_frac * w) | (bh >= min_frac * h)
    solid = area >= min_fill * bw * bh
    # Lookup tables indexed by label; label 0 is the background.
    keep = np.concatenate([[False], area > speck_area])
    bad = np.concatenate([[False], touches & big & solid])
    return _lookup(keep, labels), _lookup(bad, labels)


def _lookup(table: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``table[labels]`` a band of rows at a time: indexing casts int32 labels to int64, which
    for a whole page would be a transient 8 bytes per pixel."""
    out = np.empty(labels.shape, table.dtype)
    step = max(1, _LOOKUP_CHUNK // max(1, labels.shape[1]))
    for y in range(0, labels.shape[0], step):
        out[y : y + step] = table[labels[y : y + step]]
    return out
