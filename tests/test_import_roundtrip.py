"""Round trip for every spec in spec/ and tests/specs/: spec -> render -> build the real generated model (Keras and
PyTorch) -> import -> the same network.

"The same" is checked three ways: the analysis JSON (names, types, inputs, shapes, parameters, MACs, receptive
fields) is identical; every layer's validated model is equal after normalising defaults; and once the import is
completed with what the source format does not carry (the spec's name and description; for Keras the batch size,
epochs and schedule; for PyTorch also initializers, regularizers, training, and the names of layers that have no
module), it renders byte-identical Keras and PyTorch code (the spec hash aside).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, SPEC_PATHS

from alexgen import report
from alexgen.compose import resolve_file
from alexgen.graph import Graph
from alexgen.importers import import_model
from alexgen.render import environment, render_module
from alexgen.spec import Training
from alexgen.validate import graph_from_text, load_graph

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ALL_SPECS = SPEC_PATHS + sorted((ROOT / "tests" / "specs").glob("*.yaml"))
MODULELESS = {"flatten", "concatenate", "activation", "global_avg_pool2d", "add"}  # graph-form PyTorch: no module name
NOT_IN_A_MODULE = ("kernel_initializer", "bias_initializer", "kernel_regularizer")


def pads(layer: Any, shape: tuple[int, ...]) -> Any:
    """A conv's padding as explicit (top, bottom), (left, right) pads."""
    from alexgen.analysis import explicit_pads, pair, same_pads

    if layer.padding == "valid":
        return ((0, 0), (0, 0))
    if layer.padding == "same":
        k, s, d = pair(layer.kernel_size), pair(layer.strides), pair(layer.dilation_rate)
        return tuple(same_pads(n, *a) for n, a in zip(shape[:2], zip(k, s, d, strict=True), strict=True))
    return explicit_pads(layer.padding)


def canonical(graph: Graph, carried: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Each layer's validated keys with defaults and spellings normalised (pairs, pool strides, conv pads)."""
    from alexgen.analysis import pair

    out = []
    for node in graph.nodes:
        keys = node.layer.model_dump(exclude={"name", "inputs", *carried})
        for key in ("kernel_size", "strides", "pool_size", "dilation_rate", "output_size"):
            if keys.get(key) is not None:
                keys[key] = pair(keys[key])
        if node.type in ("max_pool2d", "avg_pool2d") and keys["strides"] is None:
            keys["strides"] = keys["pool_size"]
        if node.type == "conv2d":
            keys["padding"] = pads(node.layer, graph.node(node.inputs[0]).shape if node.inputs[0] != "input"
                                   else graph.input_shape)
        out.append(keys)
    return out


def analysis(graph: Graph) -> dict[str, Any]:
    """The analysis JSON without the spec's name."""
    found = report.to_dict(graph)
    found.pop("name")
    return found


def rendered(graph: Graph) -> dict[str, str]:
    """Both targets' modules, the spec's hash replaced (the texts differ there by construction)."""
    env = environment()
    texts = {t: render_module(graph, t, env, "spec/x.yaml").replace(graph.sha256, "<sha>")
             for t in ("keras", "pytorch")}
    return {t: "\n".join(line for line in text.splitlines() if not line.startswith(("# content sha256:", "#   ")))
            for t, text in texts.items()}  # "#   <sha256> <path>": the source files, which only a file spec has


def flat(path: Path) -> Graph:
    """The spec as one flat file would give it: bases, parameters and repeats applied (no builder arguments)."""
    return graph_from_text(yaml.safe_dump(resolve_file(path).data, sort_keys=False), "spec/x.yaml")


def completed(text: str, original: dict[str, Any], target: str, renames: dict[str, str]) -> Graph:
    """The imported spec with what its source format cannot carry taken from the original."""
    data = yaml.safe_load(text)
    data["name"], data["description"] = original["name"], original.get("description")
    data = {k: v for k, v in data.items() if v is not None}
    training = original.get("training")
    if target == "keras" and training is None:  # compile_model compiled with the spec language's defaults
        assert graph_from_text(text).spec.training == Training()
        del data["training"]
    elif target == "keras":
        data["training"] = {**data["training"], **{k: training[k] for k in ("batch_size", "epochs", "lr_schedule")
                                                   if k in training}}
    if target == "pytorch":
        if training is not None:
            data["training"] = training
        for mine, theirs in zip(data["layers"], original["layers"], strict=True):
            mine.update({k: theirs[k] for k in NOT_IN_A_MODULE if k in theirs})
            mine["name"] = renames.get(mine["name"], mine["name"])
            if "inputs" in mine:
                mine["inputs"] = [renames.get(ref, ref) for ref in mine["inputs"]]
            if mine["type"] == "conv2d" and "padding" in theirs:
                mine["padding"] = theirs["padding"]  # PyTorch's padding=2 does not say whether the spec said `same`
    return graph_from_text(yaml.safe_dump(data, sort_keys=False), "completed.yaml")


def build(graph: Graph, path: Path, target: str) -> Any:
    """The generated module's real model (compiled, for Keras)."""
    from alexgen.frameworks import generated_module

    module = generated_module(graph, path.as_posix(), target)
    model = module.build_model()
    return module.compile_model(model) if target == "keras" else model


@pytest.mark.parametrize("target", ["keras", "pytorch"])
@pytest.mark.parametrize("path", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_round_trip(path: Path, target: str) -> None:
    pytest.importorskip("keras" if target == "keras" else "torch")
    original = load_graph(path)
    model = build(original, path, target)
    imported = import_model(model, tuple(original.input_shape), original.name, source=f"{path.stem}:{target}")
    assert not [w for w in imported.warnings if w.level == "error"]
    graph = imported.graph
    assert [n.type for n in graph.nodes] == [n.type for n in original.nodes]
    renames = {}
    if target == "pytorch":  # layers without a module are named by torch.fx (flatten, cat, relu)
        renames = {mine.name: theirs.name for mine, theirs in zip(graph.nodes, original.nodes, strict=True)
                   if theirs.type in MODULELESS}
    assert [renames.get(n.name, n.name) for n in graph.nodes] == [n.name for n in original.nodes]
    carried = NOT_IN_A_MODULE if target == "pytorch" else ()
    assert canonical(graph, carried) == canonical(original, carried)
    raw = resolve_file(path).data  # the flat spec: bases, parameters and repeats applied
    complete = completed(imported.text, raw, target, renames)
    assert analysis(complete) == analysis(original)
    assert complete.spec.training == original.spec.training
    assert rendered(complete) == rendered(flat(path))
    del model
