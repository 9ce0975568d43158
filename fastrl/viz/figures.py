"""Matplotlib figures without a GUI backend (``Figure`` + Agg canvas, so no display and no global pyplot state),
laid out by matplotlib's constrained layout (it places shared colour bars, which tight_layout cannot), written
atomically as PNG."""

from __future__ import annotations

import io
from pathlib import Path

from fastrl.io import atomic_write_bytes

DPI = 110


def new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, path: str | Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write_bytes(Path(path), buffer.getvalue())
