"""How each of the 33 synthetic classes looks: a shape, a texture and colour statistics, drawn with variation.

Classes of one task always differ in shape and texture; colour overlaps with the background clutter, so a
model must look at shape and fine texture (cheap in pixel error) to tell classes apart, as in natural images.
"""

from __future__ import annotations

import colorsys
import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from mike.data.tasks import TASKS

SHAPES = (
    "ellipse",
    "rectangle",
    "triangle",
    "star",
    "ring",
    "cross",
    "hexagon",
    "crescent",
    "diamond",
    "arrow",
    "chevron",
)
TEXTURES = ("stripes", "checker", "dots", "rings", "solid", "gradient")
# Shapes drawn as one filled polygon (their unoccluded segmentation can be written as a COCO polygon).
POLYGON_SHAPES = frozenset(SHAPES) - {"ring", "crescent"}


@dataclass(frozen=True)
class ClassStyle:
    """The appearance distribution of one class; every instance draws its own variation from it."""

    shape: str
    texture: str
    hue: float  # mean hue in [0, 1)
    aspect: float  # mean width / height
    frequency: float  # texture cycles across the object


def _build_styles() -> dict[str, ClassStyle]:
    styles = {}
    for t, task in enumerate(TASKS):
        for k, name in enumerate(task.classes):
            styles[name] = ClassStyle(
                shape=SHAPES[(3 * t + 4 * k) % len(SHAPES)],  # offsets 0, 4, 8: distinct within a task
                texture=TEXTURES[(t + 2 * k) % len(TEXTURES)],  # offsets 0, 2, 4: distinct within a task
                hue=(0.37 * t + 0.29 * k) % 1.0,
                aspect=(0.65, 1.0, 1.5)[(t + k) % 3],
                frequency=2.5 + (7 * t + 5 * k) % 5,
            )
    return styles


CLASS_STYLES: dict[str, ClassStyle] = _build_styles()


def _unit_polygon(shape: str, n: int = 28) -> list[tuple[list[tuple[float, float]], int]]:
    """Shape as (polygon in [-1, 1]^2, fill) operations; fill 0 cuts a hole."""

    def circle(cx=0.0, cy=0.0, r=1.0):
        return [
            (cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n)) for i in range(n)
        ]

    def regular(k, r=1.0, phase=0.0):
        return [
            (r * math.cos(phase + 2 * math.pi * i / k), r * math.sin(phase + 2 * math.pi * i / k))
            for i in range(k)
        ]

    if shape == "ellipse":
        return [(circle(), 1)]
    if shape == "rectangle":
        return [([(-1, -1), (1, -1), (1, 1), (-1, 1)], 1)]
    if shape == "triangle":
        return [([(0, -1), (1, 1), (-1, 1)], 1)]
    if shape == "star":
        pts = []
        for i in range(10):
            r = 1.0 if i % 2 == 0 else 0.45
            a = -math.pi / 2 + math.pi * i / 5
            pts.append((r * math.cos(a), r * math.sin(a)))
        return [(pts, 1)]
    if shape == "ring":
        return [(circle(), 1), (circle(r=0.55), 0)]
    if shape == "cross":
        a = 0.35
        return [
            (
                [
                    (-a, -1),
                    (a, -1),
                    (a, -a),
                    (1, -a),
                    (1, a),
                    (a, a),
                    (a, 1),
                    (-a, 1),
                    (-a, a),
                    (-1, a),
                    (-1, -a),
                    (-a, -a),
                ],
                1,
            )
        ]
    if shape == "hexagon":
        return [(regular(6), 1)]
    if shape == "crescent":
        return [(circle(), 1), (circle(cx=0.45, cy=-0.1, r=0.85), 0)]
    if shape == "diamond":
        return [([(0, -1), (0.7, 0), (0, 1), (-0.7, 0)], 1)]
    if shape == "arrow":
        return [([(-1, -0.35), (0.2, -0.35), (0.2, -1), (1, 0), (0.2, 1), (0.2, 0.35), (-1, 0.35)], 1)]
    if shape == "chevron":
        return [([(-1, -1), (0, -0.2), (1, -1), (1, -0.3), (0, 0.6), (-1, -0.3)], 1)]
    raise ValueError(f"unknown shape {shape!r}")


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    # (min/max rather than np.clip: the same value for a float, without numpy's overhead per scalar)
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)), np.float32)


def read_only(grids: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Arrays that are cached and shared: a caller that wrote into one would change every later drawing."""
    for g in grids:
        g.setflags(write=False)
    return tuple(grids)


@functools.cache
def _centred_grid(size: int) -> tuple[np.ndarray, ...]:
    """Pixel-centre coordinates in [-1, 1] of a size×size patch, as (yy, xx); made once per size."""
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    return read_only(np.meshgrid(coords, coords, indexing="ij"))


def texture_field(texture: str, u: np.ndarray, v: np.ndarray, freq: float, phase: float) -> np.ndarray:
    """A pattern in [0, 1] over object-relative coordinates u, v in [-1, 1]."""
    w = math.pi * freq
    if texture == "stripes":
        return (np.sin(w * u + phase) > 0).astype(np.float32)
    if texture == "checker":
        return ((np.sin(w * u + phase) * np.sin(w * v + phase)) > 0).astype(np.float32)
    if texture == "dots":
        return ((np.cos(w * u + phase) * np.cos(w * v + phase)) > 0.45).astype(np.float32)
    if texture == "rings":
        return (np.sin(w * np.hypot(u, v) + phase) > 0).astype(np.float32)
    if texture == "solid":
        return np.zeros_like(u, dtype=np.float32)
    if texture == "gradient":
        return np.clip(0.5 + 0.5 * (v * math.cos(phase) + u * math.sin(phase)), 0, 1).astype(np.float32)
    raise ValueError(f"unknown texture {texture!r}")


def draw_shape_mask(
    shape: str, size: int, aspect: float, angle: float, jitter: np.ndarray
) -> tuple[np.ndarray, list[float] | None]:
    """Rasterise a rotated shape on a size×size canvas; returns the mask and, for polygon shapes, the polygon.

    jitter perturbs each vertex a little so no two instances share an outline.
    """
    half = size / 2.0
    sx = half * 0.95 * min(1.0, aspect)
    sy = half * 0.95 * min(1.0, 1.0 / aspect)
    ca, sa = math.cos(angle), math.sin(angle)
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    polygon = None
    for op_index, (pts, fill) in enumerate(_unit_polygon(shape)):
        xy = []
        for i, (x, y) in enumerate(pts):
            j = jitter[(i + 7 * op_index) % len(jitter)]
            x, y = x * sx * (1 + j), y * sy * (1 + j)
            xy.append((half + x * ca - y * sa, half + x * sa + y * ca))
        draw.polygon(xy, fill=255 * fill)
        if op_index == 0:
            polygon = [c for p in xy for c in p]
    mask = np.asarray(canvas) > 127
    return mask, (polygon if shape in POLYGON_SHAPES else None)


def render_instance(
    style: ClassStyle, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[float] | None]:
    """One instance of a class: (RGB patch size×size×3 in [0, 1], mask, polygon in patch coords or None)."""
    angle = rng.uniform(-0.6, 0.6)
    aspect = style.aspect * math.exp(rng.normal(0, 0.15))
    mask, polygon = draw_shape_mask(style.shape, size, aspect, angle, rng.uniform(-0.08, 0.08, 16))
    yy, xx = _centred_grid(size)
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = xx * ca + yy * sa, -xx * sa + yy * ca  # texture turns with the object
    pattern = texture_field(
        style.texture, u, v, style.frequency * math.exp(rng.normal(0, 0.12)), rng.uniform(0, 2 * math.pi)
    )
    hue = style.hue + rng.normal(0, 0.04)
    main = hsv_to_rgb(hue, rng.uniform(0.55, 0.95), rng.uniform(0.6, 1.0))
    second = hsv_to_rgb(hue + rng.normal(0.08, 0.03), rng.uniform(0.3, 0.8), rng.uniform(0.1, 0.4))
    patch = main[None, None, :] * (1 - pattern[..., None]) + second[None, None, :] * pattern[..., None]
    shade = 1.0 + 0.15 * (yy * rng.normal(0, 1) + xx * rng.normal(0, 1))[..., None]  # lighting
    return np.clip(patch * shade, 0, 1).astype(np.float32), mask, polygon
