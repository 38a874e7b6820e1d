"""What a written figure must show, read back from its PNG: the size it was drawn at and data drawn in colour (the
axes, ticks and labels are black or grey; a figure whose data went missing has no coloured pixels)."""

from __future__ import annotations

from pathlib import Path


def coloured_fraction(path: Path, size_in: tuple[float, float], dpi: int = 120) -> float:
    """The fraction of the PNG's pixels drawn in colour (max - min channel above 0.15), after checking that the
    image has ``size_in`` (width, height, inches) at ``dpi``."""
    import matplotlib.image
    image = matplotlib.image.imread(str(path))
    assert image.shape[:2] == (round(size_in[1] * dpi), round(size_in[0] * dpi)), (path, image.shape)
    rgb = image[..., :3]
    return float(((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.15).mean())
