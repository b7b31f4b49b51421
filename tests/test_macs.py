"""MACs as everyone else counts them: multiply-accumulates of convolution and dense weights only, checked per
layer against PyTorch's own FlopCounterMode (FLOPs / 2), and parameters against torchinfo, on the generated
PyTorch model of every bundled spec and every test spec (batch 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SPEC_PATHS

from alexgen.graph import Graph
from alexgen.validate import load_graph

TEST_SPECS = sorted((ROOT / "tests" / "specs").glob("*.yaml"))
ALL_SPECS = [*SPEC_PATHS, *TEST_SPECS]


def bias_outputs(graph: Graph) -> int:
    """One bias add per output element of every layer that has a bias (what torchinfo adds to its mult-adds)."""
    return sum(n.size for n in graph.weighted if any(slot.name == "bias" for slot in n.slots))


@pytest.mark.parametrize(("name", "macs", "mult_adds"), [("alexnet", 1_135_256_096, 1_135_915_368),
                                                         ("alexnet_paper", 724_406_816, None)])
def test_the_literature_numbers(name: str, macs: int, mult_adds: int | None) -> None:
    graph = load_graph(ROOT / "spec" / f"{name}.yaml")
    assert graph.macs == macs
    if mult_adds is not None:  # torchinfo's "mult-adds" counts one more per bias element
        assert graph.macs + bias_outputs(graph) == mult_adds


def test_other_ops_by_hand() -> None:
    graph = load_graph(ROOT / "spec" / "alexnet.yaml")
    assert graph.node("conv1").other_ops == 2 * 55 * 55 * 96  # a bias add and a ReLU per output
    assert graph.node("pool1").other_ops == 27 * 27 * 96 * 3 * 3 and graph.node("pool1").macs == 0
    assert graph.node("predictions").other_ops == 2 * 1000  # bias and softmax
    assert graph.node("drop6").other_ops == graph.node("flatten").other_ops == 0
    assert graph.other_ops == sum(n.other_ops for n in graph.nodes) == 2_420_720


@pytest.mark.parametrize("path", ALL_SPECS, ids=[f"{p.parent.name}/{p.stem}" for p in ALL_SPECS])
def test_macs_and_parameters_match_pytorch_and_torchinfo(path: Path) -> None:
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    from torch.utils.flop_counter import FlopCounterMode

    from alexgen.frameworks import generated_module
    from alexgen.weights import torch_prefixes

    graph = load_graph(path)
    model = generated_module(graph, str(path), "pytorch").build_model().eval()
    h, w, c = graph.input_shape
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, c, h, w))
    assert counter.get_total_flops() == 2 * graph.macs
    flops = counter.get_flop_counts()
    top = type(model).__name__
    prefixes = torch_prefixes(model)
    for node in graph.nodes:
        counted = sum(flops.get(f"{top}.{prefixes[node.name]}", {}).values()) if node.name in prefixes else 0
        assert counted == 2 * node.macs, node.name

    stats = torchinfo.summary(model, input_size=(1, c, h, w), verbose=0, device="cpu")
    buffers = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    assert stats.total_params == graph.trainable_params  # torchinfo counts parameters, not buffers
    assert stats.total_params + buffers == graph.total_params  # alexgen also counts batch-norm moving statistics
    per_layer = {info.var_name: info.num_params for info in stats.summary_list}
    for node in graph.nodes:  # per layer: torchinfo's parameters are the analyzer's trainable ones
        assert per_layer.get(node.name, 0) == node.trainable, node.name
