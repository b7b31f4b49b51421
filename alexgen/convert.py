"""`alexgen convert-weights`: Keras files and PyTorch state_dicts to and from the neutral file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from alexgen import weights as w
from alexgen.graph import Graph
from alexgen.weights import WeightsError, check_shapes, read_neutral, write_neutral


def read_weights(graph: Graph, spec_path: str, source: str, path: Path) -> dict[str, np.ndarray]:
    """Neutral tensors from a Keras (.keras / .weights.h5), PyTorch (state_dict) or neutral file."""
    expected = w.neutral_shapes(graph)
    if source == "neutral":
        return read_neutral(path, graph, expected)
    from alexgen.frameworks import generated_module

    module = generated_module(graph, spec_path, "keras" if source == "keras" else "pytorch")
    if source == "keras":
        model = module.build_model()
        check_keras_layers(model, path, graph.name)
        try:
            model.load_weights(str(path))
        except Exception as exc:  # Keras raises many types for a file that does not fit
            raise WeightsError(f"{path}: cannot load into the Keras model of {graph.name}: {first_line(exc)}") from None
        tensors = w.keras_to_neutral(graph, model)
    else:
        import torch

        model = module.build_model()
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            w.check_torch_state(model, state, str(path))
        except WeightsError:
            raise
        except Exception as exc:
            # torch's own message suggests weights_only=False, which would run code from the file: not repeated
            kind = type(exc).__name__
            raise WeightsError(f"{path}: not a PyTorch state_dict saved with torch.save ({kind})") from None
        tensors = w.torch_state_to_neutral(graph, state, w.torch_prefixes(model))
    return tensors


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (framework messages can run to pages)."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def keras_layer_arrays(path: Path) -> dict[str, tuple[int, ...]] | None:
    """Model weight arrays (not the optimizer's) of a Keras 3 .weights.h5 or .keras file, or None if it is not one."""
    import io
    import zipfile

    import h5py

    found: dict[str, tuple[int, ...]] = {}

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            found[f"layers/{name}"] = tuple(item.shape)

    try:
        source: Any = str(path)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                source = io.BytesIO(archive.read("model.weights.h5"))
        with h5py.File(source, "r") as handle:
            if "layers" not in handle:
                return None  # a legacy .h5 file: its own loader compares the layers
            handle["layers"].visititems(visit)
    except (OSError, KeyError, zipfile.BadZipFile):
        return None  # not a Keras 3 file: Keras's loader says why
    return found


def check_keras_layers(model: Any, path: Path, name: str) -> None:
    """Raise WeightsError on the first weight array a Keras file lacks, misshapes or has in excess.

    Keras itself loads a file with extra layers silently, and reports a wrong shape with the whole tensor.
    """
    import tempfile

    found = keras_layer_arrays(path)
    if found is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        model.save_weights(str(Path(folder) / "model.weights.h5"))
        expected = keras_layer_arrays(Path(folder) / "model.weights.h5") or {}
    where = f"{path}: not a weights file of the Keras model of {name}"
    for key, shape in expected.items():
        if key not in found:
            raise WeightsError(f"{where}: missing {key!r} (shape {shape})")
        if found[key] != shape:
            raise WeightsError(f"{where}: {key!r} has shape {found[key]}, expected {shape}")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise WeightsError(f"{where}: unexpected {extra[0]!r} (shape {found[extra[0]]}); the file holds "
                           f"{len(found)} weight arrays, the model {len(expected)}")


def write_weights(graph: Graph, spec_path: str, dest: str, tensors: dict[str, np.ndarray], path: Path) -> None:
    """Write neutral tensors as a Keras weights file, a PyTorch state_dict or a neutral file."""
    if dest == "neutral":
        write_neutral(path, tensors, graph)
        return
    from alexgen.frameworks import generated_module

    module = generated_module(graph, spec_path, "keras" if dest == "keras" else "pytorch")
    if dest == "keras":
        model = module.build_model()
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

    model = module.build_model()
    w.load_torch_state(model, w.neutral_to_torch_state(graph, tensors, w.torch_prefixes(model)))
    torch.save(model.state_dict(), str(path))


def convert(graph: Graph, spec_path: str, source: str, dest: str, src: Path, dst: Path) -> int:
    """Convert one weights file; returns the number of tensors."""
    tensors = read_weights(graph, spec_path, source, src)
    check_shapes(tensors, w.neutral_shapes(graph), str(src))
    write_weights(graph, spec_path, dest, tensors, dst)
    return len(tensors)
