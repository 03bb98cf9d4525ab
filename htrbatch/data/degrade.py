"""Page and ink degradations that turn a clean ink mask into a scan- or photo-like gray image.

Everything works on grayscale images: an ink *alpha* mask is float32 (H, W) in [0, 1] (1 = full
ink); intermediate page images are float32 (H, W) gray levels in [0, 255]; the final image is
uint8 (H, W), dark ink on light paper. Each step takes a ``np.random.Generator`` so a caller that
seeds one generator gets reproducible output.

``sample_page_style`` draws one set of parameters (``PageStyle``) for a difficulty in [0, 1] and
``apply_page_style`` runs the whole chain; ``capture`` runs the steps after the ink, and the single
steps are public, so the page renderer can put its own steps between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PageStyle:
    """Sampled paper, ink and capture parameters for one image (gray levels are 0..255)."""

    difficulty: float  # 0 = clean 300 dpi scan, 1 = hardest phone photo
    paper_level: float  # paper gray level before illumination
    paper_texture: float  # amplitude of low-frequency paper mottling (gray levels)
    texture_scale: float  # size of the mottling blobs (px)
    grain: float  # amplitude of fibres / fine grain (gray levels)
    ink_level: float  # gray level of fully opaque ink, 0..140
    ink_opacity: float  # alpha of the darkest ink, 0..1
    ink_texture: float  # 0..1: how much the ink thins out in patches (dry ballpoint)
    rule_darkness: float  # how much darker than paper a ruled line is; 0 = no rules
    rule_width: float  # px
    illumination: float  # 0..1: strength of the linear light gradient
    vignette: float  # 0..1: darkening towards the corners
    blur_sigma: float  # gaussian blur (px); 0 = none
    motion_length: float  # motion-blur kernel length (px); < 1.5 = none
    motion_angle: float  # degrees
    rescale: float  # downscale factor before upscaling back; 1 = none
    contrast: float  # multiplies distance from mid-gray
    gamma: float  # applied on [0, 1]
    noise_sigma: float  # gaussian sensor noise (gray levels)
    jpeg_quality: int  # 0 = no JPEG round trip


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def sample_page_style(rng: np.random.Generator, difficulty: float) -> PageStyle:
    """Draw a ``PageStyle``; ``difficulty`` 0 gives a clean flatbed scan, 1 a poor phone photo."""
    d = float(np.clip(difficulty, 0.0, 1.0))
    u = rng.uniform
    paper = u(_lerp(232, 170, d), 255)
    illumination = u(0, 0.45 * d) if rng.random() < 0.2 + 0.7 * d else 0.0
    vignette = u(0, 0.35 * d) if rng.random() < 0.1 + 0.6 * d else 0.0
    # The darkest spot on the page must stay clearly lighter than the ink, or the ink vanishes.
    darkest_paper = paper * (1 - illumination) * (1 - 0.6 * vignette)
    ink = min(u(0, _lerp(90, 140, d)), max(0.0, darkest_paper - 85))
    rules = rng.random() < 0.05 + 0.4 * d
    motion = rng.random() < 0.3 * d
    jpeg = rng.random() < 0.3 + 0.7 * d
    return PageStyle(
        difficulty=d,
        paper_level=paper,
        paper_texture=u(0, _lerp(1.5, 16, d)),
        texture_scale=u(8, 60),
        grain=u(0, _lerp(1.5, 8, d)),
        ink_level=ink,
        ink_opacity=u(_lerp(0.9, 0.75, d), 1.0),
        ink_texture=u(0, _lerp(0.15, 0.45, d)),
        rule_darkness=u(10, _lerp(35, 70, d)) if rules else 0.0,
        rule_width=u(0.8, 2.5),
        illumination=illumination,
        vignette=vignette,
        blur_sigma=u(0.3, _lerp(0.8, 1.6, d)),
        motion_length=u(1.5, _lerp(2, 5, d)) if motion else 0.0,
        motion_angle=u(0, 180),
        rescale=u(_lerp(1.0, 0.45, d), 1.0) if rng.random() < 0.15 + 0.5 * d else 1.0,
        contrast=u(_lerp(0.95, 0.65, d), _lerp(1.05, 1.2, d)),
        gamma=float(np.exp(u(-1, 1) * _lerp(0.05, 0.45, d))),
        noise_sigma=u(0, _lerp(2.5, 10, d)),
        jpeg_quality=int(u(_lerp(85, 25, d), 95)) if jpeg else 0,
    )


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, scale: float) -> np.ndarray:
    """Zero-mean unit-std noise, float32 (H, W), smooth over blobs of about ``scale`` px."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / scale)) + 2), max(2, int(np.ceil(w / scale)) + 2)
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    big = cv2.resize(grid, (int(gw * scale), int(gh * scale)), interpolation=cv2.INTER_CUBIC)
    oy = int(rng.integers(0, big.shape[0] - h + 1))
    ox = int(rng.integers(0, big.shape[1] - w + 1))
    out = big[oy : oy + h, ox : ox + w]
    return (out - out.mean()) / (out.std() + 1e-6)


def make_paper(
    shape: tuple[int, int],
    rng: np.random.Generator,
    level: float = 245.0,
    texture: float = 4.0,
    texture_scale: float = 30.0,
    grain: float = 2.0,
) -> np.ndarray:
    """Paper background: float32 (H, W) around ``level`` with mottling and fibre grain."""
    paper = np.full(shape, level, np.float32)
    if texture > 0:
        paper += texture * smooth_noise(shape, rng, texture_scale)
    if grain > 0:
        fine = rng.standard_normal(shape, dtype=np.float32)
        # Fibres are short and mostly aligned with the paper grain: blur more along one axis.
        k = int(rng.integers(1, 4)) * 2 + 1
        fine = cv2.GaussianBlur(fine, (k, 1) if rng.random() < 0.5 else (1, k), 0)
        fine = cv2.GaussianBlur(fine, (3, 3), 0.6)
        paper += grain * fine / (fine.std() + 1e-6)
    return paper


def draw_rules(
    page: np.ndarray,
    ys: Sequence[float],
    rng: np.random.Generator,
    darkness: float = 30.0,
    width: float = 1.2,
) -> np.ndarray:
    """Darken faint, slightly tilted ruled lines at rows ``ys`` of a float32 (H, W) page."""
    if darkness <= 0 or not ys:
        return page
    h, w = page.shape
    mask = np.zeros((h * 4, w * 4), np.uint8)
    tilt = rng.uniform(-0.004, 0.004) * w
    for y in ys:
        y0 = (y - tilt / 2) * 4
        pts = np.array([[0, y0], [w * 4, y0 + tilt * 4]]) * 16
        cv2.line(mask, *[tuple(int(v) for v in p) for p in pts], 255, max(1, round(width * 4)),
                 cv2.LINE_AA, 4)  # fmt: skip
    alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    # Printed rules fade in and out a little along their length.
    fade = 1 + 0.25 * smooth_noise((1, w), rng, max(8.0, w / 6))
    return page - darkness * alpha * np.clip(fade, 0.3, 1.5)


def texture_ink(alpha: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Thin the ink out in patches (dry or skipping pen): float32 (H, W) alpha in [0, 1]."""
    if amount <= 0:
        return alpha
    coarse = smooth_noise(alpha.shape, rng, float(rng.uniform(3, 12)))
    fine = rng.standard_normal(alpha.shape, dtype=np.float32)
    patchy = np.clip(1 - amount * (0.5 + 0.5 * coarse) - 0.25 * amount * fine, 0.15, 1.0)
    return alpha * patchy


def composite_ink(
    page: np.ndarray, alpha: np.ndarray, ink_level: float = 30.0, opacity: float = 1.0
) -> np.ndarray:
    """Lay ink of gray ``ink_level`` with coverage ``alpha`` (H, W) over a float32 (H, W) page."""
    a = np.clip(alpha, 0, 1) * opacity
    # Where the paper is darker than the ink (a shadow) the ink must not lighten it.
    ink = np.minimum(page, ink_level)
    return page * (1 - a) + ink * a


def illuminate(
    page: np.ndarray, rng: np.random.Generator, strength: float = 0.2, vignette: float = 0.0
) -> np.ndarray:
    """Multiply a float32 (H, W) image by a linear light gradient and a corner vignette."""
    if strength <= 0 and vignette <= 0:
        return page
    h, w = page.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = np.ones((h, w), np.float32)
    if strength > 0:
        angle = rng.uniform(0, 2 * np.pi)
        # The gradient spans a page, not a line: scale by a page-sized length so a line crop
        # sees only a part of it.
        span = max(h, w) * rng.uniform(1.0, 3.0)
        g = ((xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle)) / span
        light *= 1 - strength * (0.5 + np.clip(g, -0.5, 0.5))
    if vignette > 0:
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(-1, 2) * h
        r = np.hypot((xx - cx) / max(w, 1), (yy - cy) / max(w, 1) * 2)
        light *= 1 - vignette * np.clip(r, 0, 1) ** 2
    return page * light


def gaussian_blur(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gaussian blur (optics / scanner MTF) of a float32 (H, W) image; anisotropic by a bit."""
    if sigma <= 0.05:
        return img
    sx = sigma * rng.uniform(0.85, 1.15)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sx, sigmaY=sigma)


def motion_blur(
    img: np.ndarray, rng: np.random.Generator, length: float, angle: float
) -> np.ndarray:
    """Linear motion blur of ``length`` px at ``angle`` degrees (camera shake); float32 (H, W)."""
    if length < 1.5:
        return img
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(np.radians(angle)) * length / 2, np.sin(np.radians(angle)) * length / 2
    cv2.line(kernel, (round((c - dx) * 16), round((c - dy) * 16)),
             (round((c + dx) * 16), round((c + dy) * 16)), 1.0, 1, cv2.LINE_AA, 4)  # fmt: skip
    kernel /= kernel.sum()
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)


def down_up_scale(img: np.ndarray, rng: np.random.Generator, factor: float) -> np.ndarray:
    """Lose resolution: shrink by ``factor`` (< 1) and enlarge back; float32 (H, W)."""
    if factor >= 0.99:
        return img
    h, w = img.shape
    small = cv2.resize(
        img, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA
    )
    interp = cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_CUBIC
    return cv2.resize(small, (w, h), interpolation=interp)


def contrast_gamma(
    img: np.ndarray, rng: np.random.Generator, contrast: float = 1.0, gamma: float = 1.0
) -> np.ndarray:
    """Contrast about the image mean, then gamma on [0, 1]; float32 (H, W) in [0, 255]."""
    out = img
    if contrast != 1.0:
        mid = float(np.mean(img)) + rng.uniform(-5, 5)
        out = mid + (out - mid) * contrast
    if gamma != 1.0:
        out = np.clip(out, 0, 255, dtype=np.float32) * np.float32(1 / 255)
        out = cv2.pow(out, gamma) * np.float32(255)
    return out


def sensor_noise(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Signal-dependent gaussian noise (shot + read noise) of about ``sigma`` gray levels."""
    if sigma <= 0:
        return img
    scale = sigma * np.sqrt(0.3 + 0.7 * np.clip(img, 0, 255) / 255.0)
    return img + scale * rng.standard_normal(img.shape, dtype=np.float32)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Round and clip a float (H, W) image to uint8."""
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, rng: np.random.Generator, quality: int) -> np.ndarray:
    """JPEG round trip at ``quality`` (0 = none); uint8 (H, W) in and out."""
    if quality <= 0:
        return img
    q = int(np.clip(quality + rng.integers(-2, 3), 5, 100))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid 2-D uint8 array
        return img
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def apply_page_style(
    alpha: np.ndarray,
    style: PageStyle,
    rng: np.random.Generator,
    rule_ys: Sequence[float] = (),
) -> np.ndarray:
    """Turn an ink alpha mask, float32 (H, W) in [0, 1], into a uint8 (H, W) page image.

    ``rule_ys`` are rows where ruled lines would run (used when ``style.rule_darkness`` > 0).
    """
    shape = alpha.shape
    page = make_paper(shape, rng, style.paper_level, style.paper_texture, style.texture_scale,
                      style.grain)  # fmt: skip
    page = draw_rules(page, list(rule_ys), rng, style.rule_darkness, style.rule_width)
    ink = texture_ink(alpha, rng, style.ink_texture)
    page = composite_ink(page, ink, style.ink_level, style.ink_opacity)
    return capture(page, style, rng)


def capture(page: np.ndarray, style: PageStyle, rng: np.random.Generator) -> np.ndarray:
    """The steps after the ink: light, blur, resolution loss, contrast, noise and JPEG, turning
    a float32 (H, W) inked page into the uint8 (H, W) image a scanner or camera would give."""
    page = illuminate(page, rng, style.illumination, style.vignette)
    page = gaussian_blur(page, rng, style.blur_sigma)
    page = motion_blur(page, rng, style.motion_length, style.motion_angle)
    page = down_up_scale(page, rng, style.rescale)
    page = contrast_gamma(page, rng, style.contrast, style.gamma)
    page = sensor_noise(page, rng, style.noise_sigma)
    return jpeg(to_uint8(page), rng, style.jpeg_quality)
