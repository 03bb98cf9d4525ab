"""Online augmentation of prepared line images during training.

Works on the model's input (float32 (H, W), ink = 1, paper = 0) so it is cheap: every epoch sees
a slightly different line. Heavy degradations (paper, JPEG, blur at scan resolution) belong to the
renderers; this adds geometry and stroke-weight variety on top, for rendered and real data alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentOptions:
    p_affine: float = 0.7
    max_shear: float = 0.25
    max_rotate_deg: float = 1.5
    stretch: tuple[float, float] = (0.8, 1.2)
    shrink: tuple[float, float] = (0.75, 1.0)
    p_elastic: float = 0.3
    p_morph: float = 0.3
    p_contrast: float = 0.5
    p_noise: float = 0.3
    p_blur: float = 0.2


def _affine(x: np.ndarray, rng: np.random.Generator, o: AugmentOptions) -> np.ndarray:
    h, w = x.shape
    shear = rng.uniform(-o.max_shear, o.max_shear)
    angle = np.deg2rad(rng.uniform(-o.max_rotate_deg, o.max_rotate_deg))
    sx = rng.uniform(*o.stretch)
    s = rng.uniform(*o.shrink)  # smaller text inside the same height, as loose crops give
    new_w = max(8, int(round(w * sx * s + abs(shear) * h)))
    # Map output -> input around the centre: shear in x by y, rotate, scale.
    c, si = np.cos(angle), np.sin(angle)
    a = np.array([[sx * s * c, -s * si + shear * s], [sx * s * si, s * c]], dtype=np.float64)
    centre_in = np.array([w / 2, h / 2])
    dy = rng.uniform(-(1 - s) / 2, (1 - s) / 2) * h
    centre_out = np.array([new_w / 2, h / 2 + dy])
    m = np.hstack([a, (centre_out - a @ centre_in)[:, None]])
    return cv2.warpAffine(x, m, (new_w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)


def _elastic(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape
    # Smooth random displacement fields: a coarse grid upsampled, so strokes bend, not tear.
    gw = max(2, w // 24)
    amp = rng.uniform(0.5, 1.8)
    dx = cv2.resize(
        rng.normal(0, amp, (3, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    dy = cv2.resize(
        rng.normal(0, amp, (3, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(x, gx + dx, gy + dy, cv2.INTER_LINEAR, borderValue=0.0)


def augment_line(
    x: np.ndarray, rng: np.random.Generator, options: AugmentOptions = AugmentOptions()
) -> np.ndarray:
    """x: float32 (H, W) in [0, 1], ink = 1. Returns float32 (H, W') with W' near W."""
    o = options
    if rng.random() < o.p_affine:
        x = _affine(x, rng, o)
    if rng.random() < o.p_elastic:
        x = _elastic(x, rng)
    if rng.random() < o.p_morph:
        k = np.ones((2, 2), np.uint8)
        x = cv2.dilate(x, k) if rng.random() < 0.5 else cv2.erode(x, k) * 0.5 + x * 0.5
    if rng.random() < o.p_blur:
        x = cv2.GaussianBlur(x, (3, 3), rng.uniform(0.3, 0.9))
    if rng.random() < o.p_contrast:
        x = x * rng.uniform(0.55, 1.0) + rng.uniform(0.0, 0.12) * (1 - x)
    if rng.random() < o.p_noise:
        x = x + rng.normal(0, rng.uniform(0.02, 0.08), x.shape).astype(np.float32)
    return np.clip(x, 0.0, 1.0).astype(np.float32)
