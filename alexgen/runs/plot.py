"""curves.png: accuracy and loss per epoch, training and validation, like seed 003's plots (matplotlib, Agg)."""

from __future__ import annotations

import io
from typing import Any

from alexgen.data.base import require

PANELS = (("accuracy", "model accuracy"), ("loss", "model loss"))


def curves_png(history: list[dict[str, Any]], title: str) -> bytes:
    """PNG bytes of one panel per measure present (accuracy, loss): train and validation against the epoch."""
    require("matplotlib", "matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    panels = [(key, label) for key, label in PANELS if any(key in r or f"val_{key}" in r for r in history)]
    figure = Figure(figsize=(5.5 * max(1, len(panels)), 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # an explicit canvas: no pyplot, no global backend switch
    for axes, (key, label) in zip(figure.subplots(1, max(1, len(panels)), squeeze=False)[0], panels, strict=False):
        for prefix, name in (("", "train"), ("val_", "validation")):
            points = [(r["epoch"], r[prefix + key]) for r in history if r.get(prefix + key) is not None]
            if points:
                epochs, values = zip(*points, strict=True)
                axes.plot(epochs, values, marker="o", markersize=3, label=name)
        axes.set(title=label, xlabel="epoch", ylabel=key)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(loc="best")
    figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
