"""Tests for htrbatch.segment on synthetic pages drawn in the test."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from htrbatch.errors import InputError, OptionsError
from htrbatch.preprocess import clean_line
from htrbatch.segment import (
    Segmentation,
    SegmentOptions,
    astar_seam,
    draw_segmentation,
    find_peaks,
    seam_heuristic,
    segment_page,
)

TEXT = [
    "the quick brown fox jumps over",
    "a lazy dog while singing loudly",
    "handwriting on ruled paper is fine",
    "but shadows make it harder to read",
    "every line must come out once only",
    "in reading order with a tight box",
]
FONT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX


def make_page(
    lines: list[str],
    width: int = 1000,
    height: int | None = None,
    pitch: int = 75,
    scale: float = 1.3,
    angle: float = 0.0,
    rules: bool = False,
    shading: bool = False,
    noise: float = 0.0,
    touch: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Draw lines of script text; return the uint8 (H, W) page and each line's true box.

    ``angle`` rotates the page counter-clockwise (lines rise to the right); ``touch`` joins each
    line to the next with a long descender stroke, as when writing lines touch.
    """
    rng = np.random.default_rng(seed)
    height = height or pitch * (len(lines) + 2)
    layers = []
    top = pitch
    for i, text in enumerate(lines):
        layer = np.zeros((height, width), np.uint8)
        base = top + i * pitch
        cv2.putText(layer, text, (60, base), FONT, scale, 255, 2, cv2.LINE_AA)
        if touch and i + 1 < len(lines):
            # A descender long enough to reach the next line's x-height zone.
            x = 260 + 190 * (i % 3)
            cv2.line(layer, (x, base), (x - 8, base + pitch - 12), 255, 2, cv2.LINE_AA)
        layers.append(layer)
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    boxes = []
    ink = np.zeros((height, width), np.float32)
    for layer in layers:
        layer = cv2.warpAffine(layer, m, (width, height))
        ys, xs = np.nonzero(layer > 90)
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
        ink = np.maximum(ink, layer.astype(np.float32) / 255.0)
    paper = np.full((height, width), 232.0, np.float32)
    if rules:
        rule = np.zeros((height, width), np.uint8)
        for y in range(pitch + 12, height, pitch):
            cv2.line(rule, (0, y), (width, y), 255, 2, cv2.LINE_AA)
        cv2.line(rule, (40, 0), (40, height), 255, 2, cv2.LINE_AA)
        rule = cv2.warpAffine(rule, m, (width, height))
        paper *= 1.0 - 0.35 * rule.astype(np.float32) / 255.0
    img = paper * (1.0 - ink) + 45.0 * ink
    if shading:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        img *= 0.55 + 0.45 * (xx / width) * (0.6 + 0.4 * yy / height)
    if noise:
        img += rng.normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), boxes


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def assert_matches(seg: Segmentation, truth) -> None:
    """Same number of lines, in order, each overlapping its true line at IoU >= 0.5."""
    boxes = [line.bbox for line in seg.lines]
    assert len(boxes) == len(truth), (boxes, truth)
    for got, want in zip(boxes, truth):
        assert iou(got, want) >= 0.5, (got, want)


@pytest.mark.parametrize("method", ["projection", "seam", "auto"])
def test_clean_page_lines_boxes_and_order(method):
    gray, truth = make_page(TEXT)
    seg = segment_page(gray, SegmentOptions(method=method))
    assert_matches(seg, truth)
    tops = [line.bbox[1] for line in seg.lines]
    assert tops == sorted(tops)
    assert seg.method in ("projection", "seam")
    for line in seg.lines:
        assert line.image.dtype == np.uint8 and line.image.ndim == 2
        # Cleaned crop: paper background, dark ink.
        assert np.median(line.image) > 200 and line.image.min() < 120


def test_phone_photo_ruled_shaded_rotated_noisy():
    gray, truth = make_page(TEXT, rules=True, shading=True, noise=5.0, angle=3.0, seed=1)
    seg = segment_page(gray)
    # Rules must be neither lines of their own nor stretch the boxes; boxes are in input pixels.
    assert_matches(seg, truth)
    assert seg.skew_deg == pytest.approx(3.0, abs=0.5)


def test_boxes_map_back_through_deskew():
    gray, truth = make_page(TEXT[:4], angle=-4.0, pitch=90)
    seg = segment_page(gray)
    assert seg.skew_deg == pytest.approx(-4.0, abs=0.5)
    assert_matches(seg, truth)
    # Crops are deskewed: much wider than tall, unlike the tilted input boxes.
    for line in seg.lines:
        x0, y0, x1, y1 = line.bbox
        assert line.image.shape[0] < 0.85 * (y1 - y0)


def test_single_line_image_is_one_line():
    gray, truth = make_page(TEXT[:1], width=900, pitch=60)
    ys, xs = np.nonzero(gray < 150)
    # A pre-cut line: the text with a few pixels of paper.
    y0, y1, x0, x1 = ys.min() - 6, ys.max() + 7, xs.min() - 6, xs.max() + 7
    crop = gray[y0:y1, x0:x1]
    seg = segment_page(crop)
    assert len(seg.lines) == 1
    bx0, by0, bx1, by1 = seg.lines[0].bbox
    assert iou(seg.lines[0].bbox, (6, 6, crop.shape[1] - 7, crop.shape[0] - 7)) > 0.8
    assert (bx0, by0) >= (0, 0) and bx1 <= crop.shape[1] and by1 <= crop.shape[0]


def test_touching_lines_are_split_by_seams():
    gray, truth = make_page(TEXT[:5], touch=True, pitch=70)
    auto = segment_page(gray)
    assert auto.method == "seam"
    assert_matches(auto, truth)
    seam = segment_page(gray, SegmentOptions(method="seam"))
    assert_matches(seam, truth)
    for line in seam.lines:
        assert line.image.shape[0] < 1.6 * 70
    # The seam goes round the end of a joining stroke where the gap is free (first two lines),
    # so the stroke stays whole with the upper line; a straight cut chops it at the valley.
    straight = segment_page(gray, SegmentOptions(method="projection"))
    for i in (0, 1):
        stroke_end = 70 + i * 70 + 58
        assert seam.lines[i].bbox[3] >= stroke_end - 3
        assert straight.lines[i].bbox[3] < stroke_end - 15


def slanted_page(pitch: int = 62, tilt: float = 4.0):
    """Lines each turned the other way (+tilt, -tilt, ...), as whiteboard writing drifts."""
    width, height = 1000, pitch * (len(TEXT) + 2)
    ink = np.zeros((height, width), np.float32)
    boxes = []
    for i, text in enumerate(TEXT):
        layer = np.zeros((height, width), np.uint8)
        base = pitch * (i + 1) + 20
        cv2.putText(layer, text, (60, base), FONT, 1.3, 255, 2, cv2.LINE_AA)
        turn = cv2.getRotationMatrix2D((330, base - 12), tilt if i % 2 == 0 else -tilt, 1.0)
        layer = cv2.warpAffine(layer, turn, (width, height))
        ys, xs = np.nonzero(layer > 90)
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
        ink = np.maximum(ink, layer.astype(np.float32) / 255.0)
    return np.clip(232.0 * (1 - ink) + 45.0 * ink, 0, 255).astype(np.uint8), boxes


def test_lines_with_their_own_slopes_follow_curves():
    gray, truth = slanted_page()
    for method in ("seam", "auto"):
        seg = segment_page(gray, SegmentOptions(method=method))
        assert seg.method == "seam"
        assert_matches(seg, truth)
    # A single page-wide profile cannot separate lines that cross each other's rows.
    flat = segment_page(gray, SegmentOptions(method="projection"))
    assert len(flat.lines) != len(truth)


def test_blank_and_noisy_blank_pages_have_no_lines():
    blank = np.full((600, 800), 228, np.uint8)
    assert segment_page(blank).lines == []
    rng = np.random.default_rng(3)
    noisy = np.clip(228 + rng.normal(0, 8, blank.shape), 0, 255).astype(np.uint8)
    assert segment_page(noisy).lines == []
    shaded, _ = make_page([], shading=True, noise=4.0, height=700)
    assert segment_page(shaded).lines == []


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (3, 200), (200, 2)])
def test_tiny_images_do_not_fail(shape):
    for value in (0, 255):
        seg = segment_page(np.full(shape, value, np.uint8))
        assert len(seg.lines) <= 1
        for line in seg.lines:
            assert line.bbox == (0, 0, shape[1], shape[0])


def test_method_none_is_whole_image():
    gray, _ = make_page(TEXT[:3])
    seg = segment_page(gray, SegmentOptions(method="none"))
    assert seg.method == "none"
    assert [line.bbox for line in seg.lines] == [(0, 0, gray.shape[1], gray.shape[0])]
    # a line image gets the line cleaning, not the page cleaning
    assert np.array_equal(seg.lines[0].image, clean_line(gray))


def test_bad_options_and_inputs_raise_project_errors():
    with pytest.raises(OptionsError):
        segment_page(np.full((50, 50), 255, np.uint8), SegmentOptions(method="magic"))
    with pytest.raises(InputError):
        segment_page(np.zeros((50, 50), np.float32))
    with pytest.raises(InputError):
        segment_page(np.zeros((0, 10), np.uint8))


def test_draw_segmentation_marks_boxes():
    gray, _ = make_page(TEXT[:3], touch=True)
    seg = segment_page(gray)
    pic = draw_segmentation(gray, seg)
    assert pic.shape == (*gray.shape, 3) and pic.dtype == np.uint8
    # Coloured pixels appear only where something was drawn.
    coloured = (pic.max(axis=2).astype(int) - pic.min(axis=2)) > 60
    x0, y0, x1, y1 = seg.lines[0].bbox
    assert coloured[y0, x0:x1].mean() > 0.9
    assert len(seg.separators) == len(seg.lines) - 1


# --- A* seam search ---------------------------------------------------------------------------


def band_graph(cost: np.ndarray, lo: np.ndarray, hi: np.ndarray, step: float):
    """The seam search graph written out as a sparse matrix (node y * w + x), for a reference
    shortest-path solver: moves right, right-up, right-down, up, down inside the band; entering
    a node costs its cost, plus ``step`` for diagonal and vertical moves."""
    from scipy.sparse import csr_matrix

    n, w = cost.shape
    inside = (np.arange(n)[:, None] >= lo) & (np.arange(n)[:, None] <= hi)
    moves = ((0, 1, 0.0), (-1, 1, step), (1, 1, step), (-1, 0, step), (1, 0, step))  # dy, dx
    src, dst, wt = [], [], []
    for y, x in zip(*np.nonzero(inside)):
        for dy, dx, extra in moves:
            yy, xx = y + dy, x + dx
            if 0 <= yy < n and xx < w and inside[yy, xx]:
                src.append(y * w + x)
                dst.append(yy * w + xx)
                wt.append(cost[yy, xx] + extra)
    return csr_matrix((wt, (src, dst)), shape=(n * w, n * w)), inside


def random_band(seed: int, n: int = 12, w: int = 30):
    rng = np.random.default_rng(seed)
    cost = 1.0 + rng.random((n, w)) * 3.0
    cost[rng.random((n, w)) < 0.25] += 40.0  # ink
    lo = np.clip(np.round(2 + 2 * np.sin(np.arange(w) / 4.0 + seed)).astype(int), 0, n - 3)
    hi = np.clip(lo + rng.integers(2, 8, w), lo, n - 1)
    return cost, lo, hi


@pytest.mark.parametrize("seed", range(6))
def test_astar_seam_is_optimal_against_dijkstra(seed):
    from scipy.sparse.csgraph import dijkstra

    cost, lo, hi = random_band(seed)
    n, w = cost.shape
    step = 0.5
    path = astar_seam(cost, lo, hi, step)
    assert path is not None
    graph, inside = band_graph(cost, lo, hi, step)
    starts = [y * w for y in range(n) if inside[y, 0]]
    # Dijkstra from every start node; a path's cost includes its start node's cost.
    dist = dijkstra(graph, indices=starts) + cost[[s // w for s in starts], 0][:, None]
    best = min(dist[:, y * w + w - 1].min() for y in range(n) if inside[y, w - 1])
    assert path.cost == pytest.approx(best, rel=1e-9)
    # The returned nodes are a legal path of that cost, covering every column in order.
    xs, ys = path.nodes[:, 0], path.nodes[:, 1]
    assert xs[0] == 0 and xs[-1] == w - 1
    assert np.all((ys >= lo[xs]) & (ys <= hi[xs]))
    dx, dy = np.diff(xs), np.diff(ys)
    assert np.all(((dx == 1) & (np.abs(dy) <= 1)) | ((dx == 0) & (np.abs(dy) == 1)))
    again = cost[ys[0], xs[0]] + sum(
        cost[y, x] + (step if d else 0.0) for x, y, d in zip(xs[1:], ys[1:], dy != 0)
    )
    assert again == pytest.approx(path.cost)
    assert np.all((path.rows >= lo) & (path.rows <= hi))


@pytest.mark.parametrize("seed", range(4))
def test_seam_heuristic_is_admissible_and_consistent(seed):
    from scipy.sparse.csgraph import dijkstra

    cost, lo, hi = random_band(seed + 10)
    n, w = cost.shape
    h = seam_heuristic(cost, lo, hi)
    graph, inside = band_graph(cost, lo, hi, 0.5)
    goals = [y * w + w - 1 for y in range(n) if inside[y, w - 1]]
    # Exact cost to go from every node: shortest distance to any goal on the reversed graph.
    to_go = dijkstra(graph.T.tocsr(), indices=goals, min_only=True)
    ys, xs = np.nonzero(inside)
    assert np.all(h[xs] <= to_go[ys * w + xs] + 1e-9)
    assert h[-1] == 0.0 and np.all(np.diff(h) < 0)
    # Consistent: a move right lowers h by at most the cost of the node it enters.
    colmin = np.where(inside, cost, np.inf).min(axis=0)
    assert np.allclose(h[:-1] - h[1:], colmin[1:])


def test_astar_expands_few_nodes_when_the_gap_is_free():
    n, w = 40, 300
    ink = np.zeros((n, w), bool)
    ink[:6] = ink[-6:] = True
    ink[:16, 100:103] = True  # a descender reaching into the gap
    dist = cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, 3)
    cost = 1.0 + 40.0 * ink + 4.0 / (1.0 + dist) + np.abs(np.arange(n) - 20)[:, None] / 20.0
    path = astar_seam(cost, np.full(w, 1), np.full(w, n - 2))
    assert path is not None
    assert not ink[path.nodes[:, 1], path.nodes[:, 0]].any()
    # A* with this heuristic explores a small part of the band (Dijkstra would take all of it).
    assert path.expanded < 0.25 * n * w


def test_astar_no_path_through_a_broken_band():
    cost = np.ones((10, 5))
    assert astar_seam(cost, np.array([1, 1, 7, 7, 7]), np.array([2, 2, 8, 8, 8])) is None
    assert astar_seam(cost, np.array([1, 3, 1, 1, 1]), np.array([2, 2, 2, 2, 2])) is None


def interlocked_page(gap_free: bool = True):
    """Two script lines whose descenders and ascenders reach past each other's x-height zone,
    so that no straight row between them is ink-free. With ``gap_free`` the strokes stop short
    of the other line (a winding ink-free path exists), else one descender runs into the lower
    line and joins the two.

    Returns the page and its ink mask (bool, (H, W)).
    """
    width, height = 1000, 330
    ink = np.zeros((height, width), np.uint8)
    cv2.putText(ink, TEXT[0], (60, 110), FONT, 1.3, 255, 2, cv2.LINE_AA)
    cv2.putText(ink, TEXT[1], (60, 215), FONT, 1.3, 255, 2, cv2.LINE_AA)
    for x in (150, 330, 500):  # descenders of the upper line
        end = 205 if x == 330 and not gap_free else 182
        cv2.line(ink, (x, 100), (x - 4, end), 255, 3, cv2.LINE_AA)
    for x in (240, 420):  # ascenders of the lower line
        cv2.line(ink, (x, 210), (x + 4, 128), 255, 3, cv2.LINE_AA)
    gray = np.clip(232.0 - 187.0 * ink / 255.0, 0, 255).astype(np.uint8)
    return gray, ink > 90


def crossings(separator: np.ndarray, ink: np.ndarray) -> int:
    """Ink pixels under a separator polyline (drawn 1 px wide)."""
    canvas = np.zeros(ink.shape, np.uint8)
    cv2.polylines(canvas, [separator.reshape(-1, 1, 2)], False, 1, 1)
    return int((canvas.astype(bool) & ink).sum())


def test_interlocked_lines_are_split_along_a_winding_ink_free_seam():
    gray, ink = interlocked_page(gap_free=True)
    assert ink[110:205].sum(axis=1).min() > 0  # no straight cut between the lines is free
    for method in ("seam", "auto"):
        seg = segment_page(gray, SegmentOptions(method=method))
        assert seg.method == "seam"
        assert len(seg.lines) == 2 and len(seg.separators) == 1
        assert crossings(seg.separators[0], ink) == 0
        ys = seg.separators[0][:, 1]
        assert ys.min() < 128 and ys.max() > 182  # round the ends of the strokes
        # Every stroke stays whole with its own line.
        upper, lower = seg.lines
        assert upper.bbox[3] >= 182 and lower.bbox[1] <= 128
    straight = segment_page(gray, SegmentOptions(method="projection"))
    assert crossings(straight.separators[0], ink) > 15


def test_touching_lines_are_split_with_the_seam_crossing_only_the_joining_stroke():
    gray, ink = interlocked_page(gap_free=False)
    seg = segment_page(gray, SegmentOptions(method="seam"))
    assert len(seg.lines) == 2
    # The seam cuts the one joining stroke (3 px wide, a little more along a slanted crossing)
    # and nothing else.
    assert 0 < crossings(seg.separators[0], ink) <= 6


@pytest.mark.parametrize(("angle", "margin"), [(2.5, 0.45), (0.0, 0.6)])
def test_line_image_with_clipped_neighbours_is_one_line(angle, margin):
    # A line cut out of a slanted page with a generous margin, as line images often are: the
    # border clips the neighbouring lines, leaving their descenders and parts of their letters
    # at the top and the upper halves of the next line's letters at the bottom.
    gray, truth = make_page(TEXT[:3], pitch=50, angle=angle, noise=3.0, seed=2)
    x0, y0, x1, y1 = truth[1]
    pad = int(margin * (y1 - y0))
    crop = gray[y0 - pad : y1 + pad, x0 - 10 : x1 + 10]
    assert (crop[:3] < 150).any() and (crop[-3:] < 150).any()  # neighbours do reach the edges
    seg = segment_page(crop, SegmentOptions(method="auto"))
    assert len(seg.lines) == 1, [line.bbox for line in seg.lines]
    # The line found is the middle one (its box may take in absorbed bits of the neighbours).
    bx0, by0, bx1, by1 = seg.lines[0].bbox
    ix = min(bx1, 10 + x1 - x0) - max(bx0, 10)
    iy = min(by1, pad + y1 - y0) - max(by0, pad)
    assert ix * iy >= 0.9 * (x1 - x0) * (y1 - y0)


def test_tightly_cropped_slanted_page_keeps_its_edge_lines():
    # The first and last lines of a page cropped to its ink touch the border, but whole: they
    # are lines, not neighbours' fragments.
    gray, truth = make_page(TEXT[:3], angle=2.5, noise=3.0, seed=2)
    ys, xs = np.nonzero(gray < 150)
    crop = gray[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert len(segment_page(crop, SegmentOptions(method="auto")).lines) == 3


def test_find_peaks_equals_scipy() -> None:
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import find_peaks as scipy_find_peaks

    rng = np.random.default_rng(0)
    cases = [np.array([]), np.array([1.0]), np.array([0.0, 1.0, 1.0, 1.0, 0.0]), np.ones(9)]
    for _ in range(300):
        n = int(rng.integers(3, 400))
        raw = rng.integers(0, 4, n).astype(np.float64)  # many ties and flat tops
        cases += [raw, gaussian_filter1d(raw, float(rng.uniform(0.5, 6)), mode="constant")]
    for x in cases:
        for distance in (1.0, 1.5, 4.0, 11.3, 60.0):
            got = find_peaks(x, distance=distance)
            assert np.array_equal(got, scipy_find_peaks(x, distance=distance)[0]), (x, distance)
    # a plateau counts once, at its middle (rounded down); the higher of two close peaks wins
    assert find_peaks(np.array([0, 2, 2, 2, 2, 0, 3, 0.0]), 1).tolist() == [2, 6]
    assert find_peaks(np.array([0, 2, 2, 2, 2, 0, 3, 0.0]), 5).tolist() == [6]


def _same_path(a, b) -> None:
    assert (a is None) == (b is None)
    if a is not None:
        assert np.array_equal(a.nodes, b.nodes)
        assert np.array_equal(a.rows, b.rows)
        assert a.cost == b.cost and a.expanded == b.expanded


@pytest.mark.parametrize("seed", range(40))
def test_compiled_astar_finds_the_same_paths_as_python(seed):
    rng = np.random.default_rng(seed)
    n, w = int(rng.integers(2, 50)), int(rng.integers(1, 300))
    cost = 0.05 + rng.random((n, w)) * float(rng.choice([1.0, 5.0, 50.0]))
    if seed % 2:
        cost = np.round(cost, 1) + 0.1  # many equal costs: ties broken the same way
    lo = rng.integers(0, n // 2 + 1, w)
    hi = lo + rng.integers(0, n // 2 + 1, w)
    if seed % 5 == 4:
        hi[w // 2] = lo[w // 2] - 1  # a cut band: no path either way
    step = float(rng.choice([0.0, 0.5, 1.0]))
    _same_path(
        astar_seam(cost, lo, hi, step, engine="python"),
        astar_seam(cost, lo, hi, step, engine="c"),
    )


@pytest.mark.parametrize("touch", [False, True])
def test_compiled_astar_gives_the_same_page_seams(touch, monkeypatch):
    import htrbatch.segment.seams as seams_mod

    page, _ = make_page(TEXT[:4], touch=touch, seed=3)
    calls = []
    orig = seams_mod.astar_seam

    def recording(cost, lo, hi, step_cost=0.5, engine="auto"):
        calls.append((cost.copy(), np.array(lo), np.array(hi), step_cost))
        return orig(cost, lo, hi, step_cost, engine)

    monkeypatch.setattr(seams_mod, "astar_seam", recording)
    seg = segment_page(page, SegmentOptions(method="seam"))
    assert len(seg.lines) == 4 and len(calls) >= 3
    for cost, lo, hi, step in calls:
        _same_path(orig(cost, lo, hi, step, engine="python"), orig(cost, lo, hi, step, engine="c"))


def test_without_the_c_extension_seams_are_searched_in_python_with_a_warning(monkeypatch):
    import builtins

    import htrbatch.segment.seams as seams_mod

    rng = np.random.default_rng(1)
    cost = 0.1 + rng.random((12, 40))
    lo, hi = np.full(40, 2), np.full(40, 9)
    expected = astar_seam(cost, lo, hi, engine="c")
    real_import = builtins.__import__

    def no_extension(name, *args, **kwargs):
        if name == "htrbatch.segment._astar":
            raise ImportError("not built")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_extension)
    monkeypatch.setattr(seams_mod, "_COMPILED", None)
    with pytest.warns(RuntimeWarning, match="not built"):
        _same_path(astar_seam(cost, lo, hi), expected)
    with pytest.raises(ImportError, match="pip install"):
        astar_seam(cost, lo, hi, engine="c")


def test_c_astar_checks_its_buffers():
    from htrbatch.segment._astar import search

    c, heur = np.ones(12), np.ones(4)
    g, parent = np.empty(12), np.empty(12, np.int64)
    # three equal rows: the top row's end (node 3) is reached first, after 10 expansions, as the
    # Python loop does
    assert search(c, heur, g, parent, 3, 4, 0, 2, 0.5) == (3, 10)
    assert g.tolist() == [1.0, 2.0, 3.0, 4.0] * 3
    assert parent[:4].tolist() == [-1, 0, 1, 2]
    with pytest.raises(ValueError, match="cost must be a contiguous float64 array of 12"):
        search(c.astype(np.float32), heur, g, parent, 3, 4, 0, 2, 0.5)
    with pytest.raises(ValueError, match="parent must be"):
        search(c, heur, g, parent.astype(np.int32), 3, 4, 0, 2, 0.5)
    with pytest.raises(ValueError, match="bad band"):
        search(c, heur, g, parent, 3, 4, 2, 3, 0.5)


def test_astar_engine_is_checked():
    with pytest.raises(ValueError, match="engine 'fast'"):
        astar_seam(np.ones((3, 3)), np.zeros(3, int), np.full(3, 2), engine="fast")
