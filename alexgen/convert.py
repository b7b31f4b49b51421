"""`alexgen convert-weights`: Keras files and PyTorch state_dicts to and from the neutral file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alexgen import weights as w
from alexgen.graph import Graph
from alexgen.neutral import WeightsError, check_shapes, read_neutral, write_neutral


def read_weights(graph: Graph, spec_path: str, source: str, path: Path) -> dict[str, np.ndarray]:
    """Neutral tensors from a Keras (.keras / .weights.h5), PyTorch (state_dict) or neutral file."""
    expected = w.neutral_shapes(graph)
    if source == "neutral":
        return read_neutral(path, graph, expected)
    from alexgen.frameworks import generated_modules

    keras_module, torch_module = generated_modules(graph, spec_path)
    if source == "keras":
        model = keras_module.build_model()
        try:
            model.load_weights(str(path))
        except Exception as exc:  # Keras raises many types for a file that does not fit
            raise WeightsError(f"{path}: cannot load into the Keras model of {graph.name}: {exc}") from None
        tensors = w.keras_to_neutral(graph, model)
    else:
        import torch

        model = torch_module.build_model()
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            w.check_torch_state(model, state, str(path))
        except WeightsError:
            raise
        except Exception as exc:
            raise WeightsError(f"{path}: not a PyTorch state_dict file ({exc})") from None
        tensors = w.torch_state_to_neutral(graph, state, w.torch_prefixes(model))
    return tensors


def write_weights(graph: Graph, spec_path: str, dest: str, tensors: dict[str, np.ndarray], path: Path) -> None:
    """Write neutral tensors as a Keras weights file, a PyTorch state_dict or a neutral file."""
    if dest == "neutral":
        write_neutral(path, tensors, graph)
        return
    from alexgen.frameworks import generated_modules

    keras_module, torch_module = generated_modules(graph, spec_path)
    if dest == "keras":
        model = keras_module.build_model()
        w.neutral_to_keras(graph, model, tensors)
        target = str(path)
        if target.endswith(".keras"):
            model.save(target)
        else:
            if not target.endswith(".weights.h5"):
                raise WeightsError(f"{path}: Keras weights files end in .weights.h5 (or .keras for a model)")
            model.save_weights(target)
        return
    import torch

    model = torch_module.build_model()
    w.load_torch_state(model, w.neutral_to_torch_state(graph, tensors, w.torch_prefixes(model)))
    torch.save(model.state_dict(), str(path))


def convert(graph: Graph, spec_path: str, source: str, dest: str, src: Path, dst: Path) -> int:
    """Convert one weights file; returns the number of tensors."""
    tensors = read_weights(graph, spec_path, source, src)
    check_shapes(tensors, w.neutral_shapes(graph), str(src))
    write_weights(graph, spec_path, dest, tensors, dst)
    return len(tensors)
