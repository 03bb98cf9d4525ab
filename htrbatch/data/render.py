"""Render IAM-OnDB pen strokes into offline line images that look like scans and phone photos.

Coordinates go through three frames: sensor units (as read), *normalised* units (deskewed,
x-height = 1, baseline at y = 0, y grows downwards so the core spans y in [-1, 0]) and output
pixels. Geometry (slant, stretch, wobble, rotation) is applied in normalised units, ink is drawn
anti-aliased at ``supersample`` times the output size and shrunk, then ``degrade`` adds paper,
light, blur, noise and JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from htrbatch.data.degrade import PageStyle, apply_page_style, sample_page_style

# Stroke arrays below are float64 (N, 3) or (N, 2); only the public API deals in float32.


@dataclass(frozen=True)
class RenderStyle:
    """All sampled parameters of one rendering (lengths in x-heights unless marked px)."""

    x_height: float  # px at output scale
    supersample: int  # drawing scale factor, 2..4
    pen_width: float  # px at output scale
    pressure: float  # 0..1: how much faster pen movement thins the line
    ink_fade: float  # 0..1: how much faster pen movement lightens the ink
    slant: float  # added shear, positive leans right
    rotation: float  # degrees, positive is counter-clockwise
    stretch: float  # horizontal scale
    wobble: float  # baseline wobble amplitude
    wobble_period: float
    wobble_phase: float
    jitter: float  # amplitude of smooth per-point tremor
    margin_top: float
    margin_bottom: float
    margin_left: float
    margin_right: float
    neighbour_above: bool  # draw bits of the line above (its descenders) at the top
    neighbour_below: bool
    line_spacing: float  # baseline to baseline
    neighbour_shift: float  # horizontal offset of the neighbour lines, fraction of the width
    rule_offset: float  # ruled line below the baseline
    page: PageStyle


def sample_style(rng: np.random.Generator, clean_fraction: float = 0.25) -> RenderStyle:
    """Draw a ``RenderStyle``: ``clean_fraction`` are clean scans, the rest progressively harder."""
    u = rng.uniform
    clean = rng.random() < clean_fraction
    difficulty = 0.0 if clean else float(u(0.1, 1.0))
    x_height = float(u(14, 40))
    felt = rng.random() < 0.15
    pen_width = float(np.clip(x_height * (u(0.13, 0.22) if felt else u(0.045, 0.13)), 1.0, 6.0))
    page = sample_page_style(rng, difficulty)
    # Blur wider than the pen wipes thin strokes out entirely; real scans of fine pens stay legible.
    page = replace(
        page,
        blur_sigma=min(page.blur_sigma, 0.35 + 0.45 * pen_width),
        motion_length=min(page.motion_length, 1.0 + 1.5 * pen_width),
    )
    tight = rng.random() < 0.3
    vmargin = (0.0, 0.2) if tight else (0.1, 0.9)
    return RenderStyle(
        x_height=x_height,
        supersample=int(rng.integers(2, 5)),
        pen_width=pen_width,
        pressure=float(u(0.0, 0.3 if felt else 0.7)),
        ink_fade=float(u(0.0, 0.6)) if rng.random() < 0.5 else 0.0,
        slant=float(np.clip(rng.normal(0, 0.15), -0.4, 0.4)),
        rotation=float(np.clip(rng.normal(0, 1.0), -3, 3)),
        stretch=float(np.exp(u(np.log(0.8), np.log(1.25)))),
        wobble=float(u(0, 0.12)),
        wobble_period=float(u(6, 30)),
        wobble_phase=float(u(0, 2 * np.pi)),
        jitter=float(u(0, 0.025)),
        margin_top=float(u(*vmargin)),
        margin_bottom=float(u(*vmargin)),
        margin_left=float(u(0, 0.3) if tight else u(0.1, 1.5)),
        margin_right=float(u(0, 0.3) if tight else u(0.1, 1.5)),
        neighbour_above=bool(rng.random() < 0.2),
        neighbour_below=bool(rng.random() < 0.2),
        line_spacing=float(u(2.8, 4.0)),
        neighbour_shift=float(u(0.1, 0.9)),
        rule_offset=float(u(-0.05, 0.35)),
        page=page,
    )


# --- stroke clean-up and layout --------------------------------------------------------------


def _robust_height(points: np.ndarray) -> float:
    q1, q3 = np.percentile(points[:, 1], [25, 75])
    return float(max(q3 - q1, 1e-3 * (np.ptp(points[:, 0]) + 1), 1.0))


def clean_strokes(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Drop pen glitches from float (N, 3) strokes; returns float64 (N, 3) strokes.

    The whiteboard tracker sometimes jumps far away for a sample or two: strokes are split at
    implausibly long jumps, points far above/below the line are dropped, and small clusters far
    left/right of the text are dropped.
    """
    strokes = [np.asarray(s, np.float64) for s in strokes if len(s)]
    if not strokes:
        return []
    h = _robust_height(np.concatenate(strokes))
    pieces: list[np.ndarray] = []
    for s in strokes:
        if len(s) > 1:
            jump = np.hypot(*np.diff(s[:, :2], axis=0).T)
            cuts = np.flatnonzero(jump > 2.0 * h) + 1
            pieces.extend(p for p in np.split(s, cuts) if len(p))
        else:
            pieces.append(s)
    y_mid = float(np.median(np.concatenate(pieces)[:, 1]))
    kept = []
    for p in pieces:
        p = p[np.abs(p[:, 1] - y_mid) < 3.5 * h]
        if len(p):
            kept.append(p)
    if not kept:
        return []
    # Horizontal clusters: merge stroke x-ranges that are closer than a few line heights.
    order = sorted(range(len(kept)), key=lambda i: kept[i][:, 0].min())
    clusters: list[list[int]] = []
    right = -np.inf
    for i in order:
        lo, hi = kept[i][:, 0].min(), kept[i][:, 0].max()
        if lo > right + 4.0 * h:
            clusters.append([])
        clusters[-1].append(i)
        right = max(right, hi)
    sizes = [sum(len(kept[i]) for i in c) for c in clusters]
    total = sum(sizes)
    big = [c for c, n in zip(clusters, sizes, strict=True) if n >= 0.05 * total or n == max(sizes)]
    keep = {i for c in big for i in c}
    return [kept[i] for i in sorted(keep)]


def _resample(points: np.ndarray, step: float) -> np.ndarray:
    """Points along a polyline (N, 2) at about every ``step`` units of arc length."""
    if len(points) < 2:
        return points[:, :2]
    seg = np.hypot(*np.diff(points[:, :2], axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= step:
        return points[[0, -1], :2]
    t = np.arange(0, s[-1], step)
    return np.stack([np.interp(t, s, points[:, 0]), np.interp(t, s, points[:, 1])], axis=1)


@dataclass(frozen=True)
class Layout:
    """Where the writing sits, in sensor units: skew angle (radians), x-height, baseline."""

    angle: float
    x_height: float
    baseline: float  # y of the baseline after rotating by -angle about the origin
    core_top: float


def _rotate(xy: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * xy[:, 0] - s * xy[:, 1], s * xy[:, 0] + c * xy[:, 1]], axis=1)


def estimate_layout(strokes: list[np.ndarray]) -> Layout:
    """Skew, x-height and baseline of cleaned strokes from their ink density.

    Ink is resampled by arc length so the vertical profile measures ink, not pen speed. The core
    region (between baseline and x-line) is where the profile stays above 40 % of its peak,
    grown from the peak; ascenders and descenders are thin tails and fall outside it.
    """
    pts = np.concatenate([s[:, :2] for s in strokes])
    h0 = _robust_height(pts)
    ink = np.concatenate([_resample(s, h0 / 20) for s in strokes])
    angle = 0.0
    x = ink[:, 0]
    bins = np.arange(x.min(), x.max() + 2 * h0, 2 * h0)
    if len(bins) > 3:
        idx = np.digitize(x, bins)
        cx, cy, w = [], [], []
        for b in np.unique(idx):
            sel = idx == b
            if sel.sum() >= 10:
                cx.append(np.median(x[sel]))
                cy.append(np.median(ink[sel, 1]))
                w.append(np.sqrt(sel.sum()))
        if len(cx) >= 3:
            slope = np.polyfit(cx, cy, 1, w=w)[0]
            angle = float(np.clip(np.arctan(slope), -0.25, 0.25))
    flat = _rotate(ink, -angle)
    y = flat[:, 1]
    lo, hi = np.percentile(y, [0.5, 99.5])
    binw = max(h0 / 25, 1e-3)
    edges = np.arange(lo - binw, hi + 2 * binw, binw)
    hist, _ = np.histogram(y, edges)
    k = np.exp(-0.5 * (np.arange(-6, 7) / 2.5) ** 2)
    prof = np.convolve(hist.astype(np.float64), k / k.sum(), mode="same")
    peak = int(np.argmax(prof))
    thr = 0.4 * prof[peak]
    top = peak
    while top > 0 and prof[top - 1] >= thr:
        top -= 1
    bot = peak
    while bot < len(prof) - 1 and prof[bot + 1] >= thr:
        bot += 1
    core_top, baseline = edges[top], edges[bot + 1]
    x_height = float(np.clip(baseline - core_top, 0.3 * h0, 2.0 * h0))
    return Layout(angle=angle, x_height=x_height, baseline=float(baseline),
                  core_top=float(core_top))  # fmt: skip


def _catmull_rom(points: np.ndarray, step: float) -> np.ndarray:
    """Centripetal-ish Catmull-Rom through (N, D) points, sampled about every ``step`` in xy."""
    n = len(points)
    if n < 3:
        return points
    p = np.concatenate([points[:1], points, points[-1:]])
    p0, p1, p2, p3 = p[:-3], p[1:-2], p[2:-1], p[3:]
    seg = np.hypot(*(p2[:, :2] - p1[:, :2]).T)
    counts = np.clip(np.ceil(seg / step).astype(int), 1, 64)
    i = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    t = ((np.arange(len(i)) - starts[i]) / counts[i])[:, None]
    a, b, c, d = p0[i], p1[i], p2[i], p3[i]
    t2, t3 = t * t, t * t * t
    out = 0.5 * (
        2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3
    )
    return np.concatenate([out, points[-1:]])


def _speed(stroke: np.ndarray, dt_typ: float) -> np.ndarray:
    """Pen speed (sensor units / s) at each point of a (N, 3) stroke."""
    if len(stroke) < 2:
        return np.zeros(len(stroke))
    ds = np.hypot(*np.diff(stroke[:, :2], axis=0).T)
    dt = np.diff(stroke[:, 2])
    # Some sessions have repeated or backwards timestamps: there the nominal sample period is
    # the better guess.
    dt = np.where((dt > 0.2 * dt_typ) & (dt < 5 * dt_typ), dt, dt_typ)
    v = ds / dt
    return np.concatenate([[v[0]], 0.5 * (v[1:] + v[:-1]), [v[-1]]])


def _smooth(stroke: np.ndarray) -> np.ndarray:
    """Light [1 2 1] smoothing of the interior points (sensor quantisation, hand tremor)."""
    if len(stroke) < 3:
        return stroke
    out = stroke.copy()
    out[1:-1] = 0.25 * stroke[:-2] + 0.5 * stroke[1:-1] + 0.25 * stroke[2:]
    return out


# --- drawing ---------------------------------------------------------------------------------


@dataclass
class _Trace:
    """A dense stroke in normalised units: xy (N, 2), width factor (N,), ink intensity (N,)."""

    xy: np.ndarray
    width: np.ndarray
    ink: np.ndarray


def _traces(
    strokes: list[np.ndarray], layout: Layout, style: RenderStyle, align_left: bool = True
) -> list[_Trace]:
    dts = np.concatenate([np.diff(s[:, 2]) for s in strokes if len(s) > 1] or [np.ones(1)])
    pos = dts[dts > 0]
    dt_typ = float(np.median(pos)) if len(pos) else 0.01
    speeds = [_speed(s, dt_typ) for s in strokes]
    allv = np.concatenate(speeds)
    v_ref = float(np.median(allv[allv > 0])) if np.any(allv > 0) else 1.0
    step = 0.04  # x-heights; at most ~1.6 px at 40 px x-height before supersampling
    traces = []
    for s, v in zip(strokes, speeds, strict=True):
        xy = _rotate(s[:, :2], -layout.angle)
        xy[:, 1] -= layout.baseline
        xy /= layout.x_height
        rel = np.log(np.maximum(v, 1e-6 * v_ref) / v_ref)
        rel = np.convolve(np.pad(rel, 2, mode="edge"), np.ones(5) / 5, mode="valid")
        width = np.clip(np.exp(-0.35 * style.pressure * rel), 0.55, 1.5)
        ink = np.clip(1 - 0.35 * style.ink_fade * np.maximum(rel, 0), 0.55, 1.0)
        data = np.column_stack([_smooth(xy), width, ink])
        dense = _catmull_rom(data, step)
        # The spline overshoots a little; ink above 1 would wrap around in the uint8 mask.
        traces.append(
            _Trace(dense[:, :2], np.clip(dense[:, 2], 0.5, 1.6), np.clip(dense[:, 3], 0.0, 1.0))
        )
    if align_left:
        x_min = min(float(t.xy[:, 0].min()) for t in traces)
        for t in traces:
            t.xy[:, 0] -= x_min
    return traces


def _transform(traces: list[_Trace], style: RenderStyle, rng: np.random.Generator) -> None:
    """Writer-style geometry in normalised units, in place: jitter, slant, stretch, wobble, turn."""
    for tr in traces:
        if style.jitter > 0 and len(tr.xy) > 1:
            n = len(tr.xy)
            # Tremor is smooth along the stroke, not white noise per point.
            knots = max(2, n // 12 + 2)
            noise = rng.standard_normal((knots, 2)) * style.jitter
            tr.xy += np.stack(
                [np.interp(np.linspace(0, knots - 1, n), np.arange(knots), noise[:, j])
                 for j in range(2)], axis=1)  # fmt: skip
        x, y = tr.xy[:, 0], tr.xy[:, 1]
        x = (x - style.slant * (y + 0.5)) * style.stretch
        y = y + style.wobble * np.sin(2 * np.pi * x / style.wobble_period + style.wobble_phase)
        tr.xy = np.stack([x, y], axis=1)
    if style.rotation:
        a = np.radians(style.rotation)
        lo, hi = _bounds(traces)
        centre = np.array([(lo[0] + hi[0]) / 2, 0.0])
        # Turn about the middle of the baseline so ruled lines drawn there still meet it; y grows
        # downwards, so a counter-clockwise turn on the page is a negative angle here.
        for tr in traces:
            tr.xy = _rotate(tr.xy - centre, -a) + centre


def _draw(
    canvas: np.ndarray, traces: list[_Trace], scale: float, offset: np.ndarray, pen: float
) -> None:
    """Draw traces onto a uint8 (H, W) supersampled mask; ``pen`` is the width at that scale."""
    shift = 4
    f = float(1 << shift)
    h, w = canvas.shape
    for tr in traces:
        xy = tr.xy * scale + offset
        lo, hi = xy.min(axis=0) - 2 * pen - 2, xy.max(axis=0) + 2 * pen + 2
        if hi[0] < 0 or hi[1] < 0 or lo[0] >= w or lo[1] >= h:
            continue
        x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
        x1, y1 = min(w, int(hi[0]) + 1), min(h, int(hi[1]) + 1)
        layer = np.zeros((y1 - y0, x1 - x0), np.uint8)
        pts = np.rint((xy - [x0, y0]) * f).astype(np.int32)
        thick = np.maximum(1, np.rint(pen * tr.width)).astype(np.int32)
        level = np.clip(np.rint(255 * tr.ink), 0, 255).astype(np.int32)
        if len(pts) == 1:
            cv2.circle(layer, tuple(pts[0]), int(max(1, pen / 2) * f), 255, -1, cv2.LINE_AA, shift)
        else:
            # One polyline per run of equal thickness and ink level: far fewer calls than one
            # per segment, and polylines join thick segments with round caps.
            key = thick[:-1] * 256 + level[:-1] // 16 * 16
            cuts = np.flatnonzero(np.diff(key)) + 1
            starts = np.concatenate([[0], cuts])
            ends = np.concatenate([cuts, [len(key)]])
            for a, b in zip(starts, ends, strict=True):
                k = int(key[a])
                cv2.polylines(layer, [pts[a : b + 1]], False, int(min(255, k % 256 + 15)),
                              int(k // 256), cv2.LINE_AA, shift)  # fmt: skip
        # Where strokes cross, ink adds up rather than the later stroke replacing the earlier.
        region = canvas[y0:y1, x0:x1]
        np.maximum(region, layer, out=region)


def _bounds(traces: list[_Trace]) -> tuple[np.ndarray, np.ndarray]:
    xy = np.concatenate([t.xy for t in traces])
    return xy.min(axis=0), xy.max(axis=0)


def render_line(
    line_strokes: list[np.ndarray], style: RenderStyle, rng: np.random.Generator
) -> np.ndarray:
    """Render one line of pen strokes (float (N, 3) arrays of x, y, t) to uint8 (h, w).

    Dark ink on light paper; h is roughly 2.5-4 x ``style.x_height`` plus margins.
    """
    strokes = clean_strokes(line_strokes)
    if not strokes:
        h = max(8, round(style.x_height * 2))
        return apply_page_style(np.zeros((h, h), np.float32), style.page, rng)
    layout = estimate_layout(strokes)
    traces = _traces(strokes, layout, style)
    _transform(traces, style, rng)

    s = style.supersample
    scale = style.x_height * s
    pen = style.pen_width * s
    lo, hi = _bounds(traces)
    pad = style.pen_width / style.x_height / 2  # ink extends half a pen beyond the trace
    x0 = lo[0] - pad - style.margin_left
    x1 = hi[0] + pad + style.margin_right
    y0 = lo[1] - pad - style.margin_top
    y1 = hi[1] + pad + style.margin_bottom
    out_w = max(8, int(np.ceil((x1 - x0) * style.x_height)))
    out_h = max(8, int(np.ceil((y1 - y0) * style.x_height)))
    offset = np.array([-x0, -y0]) * scale
    canvas = np.zeros((out_h * s, out_w * s), np.uint8)
    _draw(canvas, traces, scale, offset, pen)

    width_n = hi[0] - lo[0]
    for present, sign in ((style.neighbour_above, -1), (style.neighbour_below, 1)):
        if not present:
            continue
        # A line segmenter leaves bits of the neighbouring lines: the same writer's strokes, one
        # line pitch up or down and shifted sideways so they do not repeat the letters below.
        dx = style.neighbour_shift * width_n
        dy = sign * style.line_spacing
        copies = []
        for shift_x in (dx, dx - width_n - 1.0):
            copies.extend(_Trace(t.xy + [shift_x, dy], t.width, t.ink) for t in traces)
        _draw(canvas, copies, scale, offset, pen)

    alpha = cv2.resize(canvas, (out_w, out_h), interpolation=cv2.INTER_AREA)
    alpha = alpha.astype(np.float32) / 255.0
    base = (0.0 - y0) * style.x_height
    rule_ys = [
        base + (style.rule_offset + k * style.line_spacing) * style.x_height for k in (-1, 0, 1)
    ]
    return apply_page_style(alpha, style.page, rng, rule_ys=rule_ys)


def draw_strokes(
    canvas: np.ndarray,
    strokes: list[np.ndarray],
    matrix: np.ndarray,
    x_height: float,
    style: RenderStyle,
) -> np.ndarray:
    """Draw cleaned strokes onto a supersampled uint8 (H, W) ink mask at a given placement.

    ``strokes`` are float (N, 3) arrays as ``clean_strokes`` returns, ``matrix`` (2, 3) maps their
    sensor units to canvas pixels and ``x_height`` is the line's x-height in sensor units (from
    ``estimate_layout``; it sets the spline step). Unlike ``render_line`` nothing is deskewed,
    moved or reshaped, so the lines of one form keep their recorded positions; pen width and ink
    follow pen speed as in ``render_line``, with a pen of ``style.pen_width * style.supersample``
    canvas px. Returns the drawn centre-line points in canvas px, float64 (K, 2).
    """
    unit = Layout(angle=0.0, x_height=x_height, baseline=0.0, core_top=0.0)
    traces = _traces(strokes, unit, style, align_left=False)
    m = np.asarray(matrix, np.float64)
    linear = m[:, :2] * x_height
    for tr in traces:
        tr.xy = tr.xy @ linear.T + m[:, 2]
    _draw(canvas, traces, 1.0, np.zeros(2), style.pen_width * style.supersample)
    return np.concatenate([tr.xy for tr in traces])
