"""The neutral weights file: safetensors, one tensor per parameter and buffer, channels-last layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alexgen.files import give_usual_permissions
from alexgen.graph import Graph
from alexgen.weights import FORMAT_VERSION

FORMAT = "alexgen-neutral"


class WeightsError(Exception):
    """A weights file that does not fit the spec; the message names the first mismatch."""


def metadata(graph: Graph) -> dict[str, str]:
    """The metadata block stored in every neutral file."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "spec_name": graph.name,
            "spec_sha256": graph.sha256, "layout": "channels_last", "total_params": str(graph.total_params)}


def write_neutral(path: Path, tensors: dict[str, np.ndarray], graph: Graph) -> None:
    """Save neutral tensors with their metadata."""
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, str(path),
              metadata=metadata(graph))
    give_usual_permissions(path)  # safetensors creates its files 0600


def read_neutral(path: Path, graph: Graph, expected: dict[str, tuple[int, ...]] | None = None,
                 check_hash: bool = True) -> dict[str, np.ndarray]:
    """Load a neutral file, checking its format, spec hash and (when given) every tensor's shape."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path}: not an alexgen neutral weights file (format {meta.get('format')!r})")
    if check_hash and meta.get("spec_sha256") != graph.sha256:
        raise WeightsError(f"{path}: made for spec {meta.get('spec_name')!r} with sha256 "
                           f"{meta.get('spec_sha256')}, but this spec ({graph.name}) has sha256 {graph.sha256}")
    if expected is not None:
        check_shapes(tensors, expected, str(path))
    return tensors


def check_shapes(tensors: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]], where: str) -> None:
    """Raise on the first missing, unexpected or wrongly shaped tensor."""
    for key, shape in expected.items():
        if key not in tensors:
            raise WeightsError(f"{where}: missing tensor {key!r} (expected shape {shape})")
        if tuple(tensors[key].shape) != tuple(shape):
            raise WeightsError(f"{where}: tensor {key!r} has shape {tuple(tensors[key].shape)}, expected {shape}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise WeightsError(f"{where}: unexpected tensor {extra[0]!r}")
