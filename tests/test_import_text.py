"""Caffe and Darknet imports (no framework needed): the hand-written files, their numbers against the bundled
specs' analysis, exact convention conversions, located refusals, and the `alexgen import` command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, SPEC_DIR

from alexgen.diagnostics import SpecError
from alexgen.importers import import_source
from alexgen.validate import load_graph

SOURCES = ROOT / "tests" / "import_sources"


def layer_numbers(graph: object) -> list[tuple[object, ...]]:
    """(type, output shape, params, MACs, receptive field) of each layer, in order."""
    return [(n.type, n.shape, n.params, n.macs, n.field) for n in graph.nodes]  # type: ignore[attr-defined]


def errors(path: Path, **options: object) -> list[object]:
    """The diagnostics of an import that must fail."""
    with pytest.raises(SpecError) as info:
        import_source(str(path), **options)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.level == "error"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    """A source file in tmp_path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_bvlc_alexnet_is_the_papers_grouped_network() -> None:
    imported = import_source(str(SOURCES / "bvlc_alexnet_deploy.prototxt"))
    paper = load_graph(SPEC_DIR / "alexnet_paper.yaml")
    assert layer_numbers(imported.graph) == layer_numbers(paper)
    assert imported.graph.total_params == paper.total_params
    convs = {n.name: n.layer.groups for n in imported.graph.nodes if n.type == "conv2d"}
    assert convs == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}


def test_bvlc_lrn_is_converted_to_the_plain_sum_convention() -> None:
    imported = import_source(str(SOURCES / "bvlc_alexnet_deploy.prototxt"))
    norm = imported.graph.node("norm1").layer
    assert (norm.size, norm.alpha, norm.beta, norm.bias) == (5, 0.0001 / 5, 0.75, 1.0)  # Caffe's k defaults to 1
    assert "divided by local_size" in imported.text


def test_darknet_alexnet_is_the_single_tower_network() -> None:
    imported = import_source(str(SOURCES / "alexnet.cfg"))
    canonical = load_graph(SPEC_DIR / "alexnet.yaml")
    assert layer_numbers(imported.graph) == layer_numbers(canonical)
    assert "Not imported (training only): [net] batch" in imported.text


def test_darknet_default_maxpool_padding_is_same(tmp_path: Path) -> None:
    cfg = write(tmp_path, "net.cfg", """\
        [net]
        height=55
        width=56
        channels=3
        [maxpool]
        size=2
        stride=2
        """)
    pool = import_source(str(cfg)).graph.nodes[0]
    assert pool.layer.padding == "same" and pool.shape == (28, 28, 3)


def test_darknet_maxpool_that_neither_padding_computes_is_refused(tmp_path: Path) -> None:
    cfg = write(tmp_path, "net.cfg", "[net]\nheight=56\nwidth=56\nchannels=3\n[maxpool]\nsize=3\nstride=2\n")
    (error,) = errors(cfg)
    assert (error.line, error.column) == (5, 1)
    assert "neither 'valid' nor 'same'" in error.message and error.layer == "[maxpool] #1"


def test_darknet_refusals_are_located(tmp_path: Path) -> None:
    cfg = write(tmp_path, "net.cfg", """\
        [net]
        height=8
        width=8
        channels=3
        [convolutional]
        filters=4
        size=3
        activation=leaky
        [convolutional]
        filters=4
        size=3
        bogus=1
        [route]
        layers=-1
        """)
    found = {(d.line, d.column): d.message for d in errors(cfg)}
    assert "the activation 'leaky' has no spec equivalent" in found[(8, 1)]
    assert "unsupported option 'bogus'" in found[(12, 1)]
    assert "unsupported Darknet section 'route'" in found[(13, 1)]


def test_caffe_ceil_pooling_is_converted_or_refused(tmp_path: Path) -> None:
    def net(pad: int) -> Path:
        return write(tmp_path, f"pad{pad}.prototxt", f"""\
            input: "data"
            input_shape {{ dim: 1 dim: 3 dim: 8 dim: 8 }}
            layer {{ name: "pool" type: "Pooling" bottom: "data" top: "pool"
                    pooling_param {{ pool: MAX kernel_size: 3 stride: 2 pad: {pad} }} }}
            """)

    pool = import_source(str(net(0))).graph.nodes[0]
    assert pool.layer.padding == "same" and pool.shape == (4, 4, 3)  # ceil((8-3)/2)+1: TensorFlow's same
    (error,) = errors(net(1))
    assert (error.line, error.column, error.layer) == (3, 1, "pool")
    assert "CEIL rounding gives 5x5 from 8x8" in error.message


def test_caffe_refusals_name_the_layer_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.prototxt", """\
        layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
        layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
                convolution_param { num_output: 4 kernel_size: 3
                                    weight_filler { type: "xavier" } } }
        layer { name: "sum" type: "Eltwise" bottom: "conv" bottom: "conv" top: "sum" eltwise_param { operation: MAX } }
        layer { name: "lrn" type: "LRN" bottom: "conv" top: "lrn" lrn_param { local_size: 3 bogus: 1 } }
        """)
    found = {(d.layer, d.line, d.column): d.message for d in errors(path)}
    assert "the 'xavier' filler has no exact spec initializer" in found[("conv", 4, 29)]
    assert "only an Eltwise SUM of two or more inputs of one shape" in found[("sum", 5, 1)]
    assert "unsupported field 'bogus' in lrn_param" in found[("lrn", 6, 85)]


def test_caffe_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.prototxt", 'layer {\n  name: "x"\n  type: "ReLU" $\n}\n')
    (error,) = errors(path)
    assert (error.line, error.column) == (3, 16) and "unexpected character '$'" in error.message


def test_cli_writes_a_valid_spec_and_refuses_without_writing(tmp_path: Path) -> None:
    out = tmp_path / "alexnet.yaml"
    code = ("import sys, runpy; sys.argv = ['alexgen'] + sys.argv[1:]; from alexgen.cli import main\n"
            "try:\n    main()\nfinally:\n"
            "    print('frameworks:', sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, check=False)

    done = run("import", str(SOURCES / "bvlc_alexnet_deploy.prototxt"), "-o", str(out), "--name", "bvlc_alexnet")
    assert done.returncode == 0, done.stderr
    assert "frameworks: []" in done.stdout  # a Caffe import loads no framework
    assert load_graph(out).total_params == load_graph(SPEC_DIR / "alexnet_paper.yaml").total_params
    assert out.read_text().startswith("# Imported by alexgen")

    bad = write(tmp_path, "bad.cfg", "[net]\nheight=8\nwidth=8\nchannels=3\n[convolutional]\nfilters=2\nsize=3\n"
                "activation=leaky\n")
    target = tmp_path / "bad.yaml"
    refused = run("import", str(bad), "-o", str(target))
    assert refused.returncode == 2 and not target.exists()
    assert f"{bad}:8:1: error:" in refused.stderr and "nothing was written" in refused.stderr

    mine = tmp_path / "mine.yaml"
    mine.write_text("# my own spec\n")
    kept = run("import", str(SOURCES / "alexnet.cfg"), "-o", str(mine))
    assert kept.returncode == 2 and mine.read_text() == "# my own spec\n"
    assert run("import", str(SOURCES / "alexnet.cfg"), "-o", str(mine), "--force").returncode == 0

    shape = run("import", str(SOURCES / "alexnet.cfg"), "-o", str(out), "--input-shape", "227,227")
    assert shape.returncode == 2 and "expected H,W,C" in shape.stderr


def test_caffe_towers_concat_lrn_k_average_pool_and_grouped_padded_conv(tmp_path: Path) -> None:
    path = write(tmp_path, "towers.prototxt", """\
        layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }
        layer { name: "left" type: "Convolution" bottom: "data" top: "left"
                convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
        layer { name: "right" type: "Convolution" bottom: "data" top: "right"
                convolution_param { num_output: 6 kernel_size: 5 pad: 2 } }
        layer { name: "join" type: "Concat" bottom: "left" bottom: "right" top: "join" }
        layer { name: "norm" type: "LRN" bottom: "join" top: "norm"
                lrn_param { local_size: 3 alpha: 0.0003 beta: 0.75 k: 2 } }
        layer { name: "grouped" type: "Convolution" bottom: "norm" top: "grouped"
                convolution_param { num_output: 8 kernel_size: 3 pad: 1 group: 2 } }
        layer { name: "relu" type: "ReLU" bottom: "grouped" top: "grouped" }
        layer { name: "avg" type: "Pooling" bottom: "grouped" top: "avg"
                pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
        layer { name: "fc" type: "InnerProduct" bottom: "avg" top: "fc" inner_product_param { num_output: 5 } }
        layer { name: "drop" type: "Dropout" bottom: "fc" top: "fc" dropout_param { dropout_ratio: 0.25 } }
        layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
        """)
    graph = import_source(str(path)).graph
    shapes = {n.name: n.shape for n in graph.nodes}
    assert shapes["left"] == (16, 16, 4) and shapes["right"] == (16, 16, 6)
    assert shapes["join"] == (16, 16, 10)
    assert set(graph.node("join").inputs) == {"left", "right"}
    norm = graph.node("norm").layer
    assert (norm.size, norm.beta, norm.bias) == (3, 0.75, 2.0) and norm.alpha == pytest.approx(0.0003 / 3, rel=1e-12)
    grouped = graph.node("grouped")
    assert (grouped.layer.groups, grouped.shape, grouped.params) == (2, (16, 16, 8), 8 * (10 // 2) * 3 * 3 + 8)
    assert (graph.node("avg").type, graph.node("avg").shape) == ("avg_pool2d", (8, 8, 8))
    assert graph.node("drop").layer.rate == 0.25
    assert graph.node("fc").params == 8 * 8 * 8 * 5 + 5
    convs = graph.node("left").params + graph.node("right").params + grouped.params
    assert (convs, graph.total_params) == (4 * 3 * 3 * 3 + 4 + 6 * 3 * 5 * 5 + 6 + 368, convs + 8 * 8 * 8 * 5 + 5)
