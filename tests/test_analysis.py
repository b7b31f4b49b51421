"""Known answers of the analyzer: shapes, parameters, MACs, receptive fields and TF 'same' padding."""

from __future__ import annotations

import math

import pytest
from conftest import SPEC_DIR, SPEC_NAMES, spec_text
from hypothesis import given
from hypothesis import strategies as st

from alexgen import report
from alexgen.analysis import adaptive_bins, explicit_pads, same_pads
from alexgen.graph import Graph
from alexgen.validate import load_graph

ALEXNET_PARAMS = {
    "conv1": 34_944,
    "conv2": 614_656,
    "conv3": 885_120,
    "conv4": 1_327_488,
    "conv5": 884_992,
    "fc6": 37_752_832,
    "fc7": 16_781_312,
    "predictions": 4_097_000,
}
ALEXNET_SHAPES = {
    "conv1": (55, 55, 96),
    "pool1": (27, 27, 96),
    "conv2": (27, 27, 256),
    "pool2": (13, 13, 256),
    "conv3": (13, 13, 384),
    "conv4": (13, 13, 384),
    "conv5": (13, 13, 256),
    "pool5": (6, 6, 256),
    "flatten": (9216,),
    "fc6": (4096,),
    "drop6": (4096,),
    "fc7": (4096,),
    "drop7": (4096,),
    "predictions": (1000,),
}


def bundled(name: str) -> Graph:
    """The analysed graph of spec/<name>.yaml."""
    return load_graph(SPEC_DIR / f"{name}.yaml")


def by_name(graph: Graph) -> dict[str, tuple[tuple[int, ...], int]]:
    """name -> (output shape, params)."""
    return {n.name: (n.shape, n.params) for n in graph.nodes}


# --- the canonical AlexNet -----------------------------------------------------------------


def test_canonical_alexnet_total_parameters() -> None:
    graph = bundled("alexnet")
    assert graph.total_params == 62_378_344
    assert graph.trainable_params == 62_378_344
    assert graph.input_shape == (227, 227, 3)
    assert graph.output.shape == (1000,)


def test_canonical_alexnet_per_layer_parameters() -> None:
    graph = bundled("alexnet")
    weighted = {n.name: n.params for n in graph.nodes if n.params}
    assert weighted == ALEXNET_PARAMS
    assert sum(ALEXNET_PARAMS.values()) == 62_378_344


def test_canonical_alexnet_output_shapes_in_order() -> None:
    graph = bundled("alexnet")
    assert [(n.name, n.shape) for n in graph.nodes] == list(ALEXNET_SHAPES.items())


def test_per_layer_parameters_by_the_formula() -> None:
    # conv: (kh*kw*in/groups + 1) * filters; dense: (in + 1) * units
    assert ALEXNET_PARAMS["conv1"] == (11 * 11 * 3 + 1) * 96
    assert ALEXNET_PARAMS["conv2"] == (5 * 5 * 96 + 1) * 256
    assert ALEXNET_PARAMS["conv3"] == (3 * 3 * 256 + 1) * 384
    assert ALEXNET_PARAMS["conv4"] == (3 * 3 * 384 + 1) * 384
    assert ALEXNET_PARAMS["conv5"] == (3 * 3 * 384 + 1) * 256
    assert ALEXNET_PARAMS["fc6"] == (6 * 6 * 256 + 1) * 4096
    assert ALEXNET_PARAMS["fc7"] == (4096 + 1) * 4096
    assert ALEXNET_PARAMS["predictions"] == (4096 + 1) * 1000


@pytest.mark.parametrize("name", ["alexnet_plain", "alexnet"])
def test_plain_and_dropout_variants_have_the_same_weights(name: str) -> None:
    graph = bundled(name)
    assert graph.total_params == 62_378_344
    assert {k: v for k, v in by_name(graph).items() if v[1]} == {
        k: (ALEXNET_SHAPES[k], p) for k, p in ALEXNET_PARAMS.items()
    }


# --- two towers and groups ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["alexnet_two_tower", "alexnet_paper"])
def test_two_tower_and_grouped_paper_network_have_60_965_224_parameters(name: str) -> None:
    assert bundled(name).total_params == 60_965_224


def test_two_tower_per_layer() -> None:
    layers = by_name(bundled("alexnet_two_tower"))
    for tower in ("t1", "t2"):
        assert layers[f"{tower}_conv1"] == ((55, 55, 48), (11 * 11 * 3 + 1) * 48)
        assert layers[f"{tower}_conv2"] == ((27, 27, 128), (5 * 5 * 48 + 1) * 128)
        assert layers[f"{tower}_conv3"] == ((13, 13, 192), (3 * 3 * 256 + 1) * 192)  # sees both towers
        assert layers[f"{tower}_conv4"] == ((13, 13, 192), (3 * 3 * 192 + 1) * 192)  # its own tower only
        assert layers[f"{tower}_conv5"] == ((13, 13, 128), (3 * 3 * 192 + 1) * 128)
        assert layers[f"{tower}_flatten"] == ((4608,), 0)
        assert layers[f"{tower}_fc6"] == ((2048,), (9216 + 1) * 2048)
        assert layers[f"{tower}_fc7"] == ((2048,), (4096 + 1) * 2048)
    assert layers["merge2"] == ((13, 13, 256), 0)
    assert layers["merge5"] == ((9216,), 0)
    assert layers["merge6"] == ((4096,), 0)
    assert layers["predictions"] == ((1000,), (4096 + 1) * 1000)


def test_grouped_convolutions_of_the_paper() -> None:
    layers = by_name(bundled("alexnet_paper"))
    assert layers["conv2"] == ((27, 27, 256), (5 * 5 * 96 // 2 + 1) * 256)
    assert layers["conv4"] == ((13, 13, 384), (3 * 3 * 384 // 2 + 1) * 384)
    assert layers["conv5"] == ((13, 13, 256), (3 * 3 * 384 // 2 + 1) * 256)
    assert layers["norm1"] == ((55, 55, 96), 0)
    assert layers["norm2"] == ((27, 27, 256), 0)


# --- batch norm, other seeds ---------------------------------------------------------------------


def test_batch_norm_moving_statistics_are_non_trainable() -> None:
    graph = bundled("alexnet_bn")
    bn1, bn2 = graph.node("bn1"), graph.node("bn2")
    assert (bn1.params, bn1.trainable, bn1.non_trainable) == (4 * 96, 2 * 96, 2 * 96)
    assert (bn2.params, bn2.trainable, bn2.non_trainable) == (4 * 256, 2 * 256, 2 * 256)
    assert graph.total_params == 62_378_344 + 4 * (96 + 256)
    assert graph.total_params - graph.trainable_params == 2 * (96 + 256)
    as_json = report.to_dict(graph)
    assert as_json["non_trainable_params"] == 704
    assert as_json["trainable_params"] + 704 == as_json["total_params"]


def test_batch_norm_everywhere_and_l2() -> None:
    graph = bundled("alexnet_bn_l2")
    channels = 96 + 256 + 384 + 384 + 256 + 4096 + 4096
    assert graph.total_params == 62_378_344 + 4 * channels == 62_416_616
    assert graph.total_params - graph.trainable_params == 2 * channels == 19_136
    assert graph.node("bn6").shape == (4096,)


def test_mnist_network() -> None:
    graph = bundled("alexnet_mnist")
    layers = by_name(graph)
    assert layers["pad1"] == ((30, 30, 1), 0)
    assert layers["conv1"] == ((28, 28, 32), (3 * 3 * 1 + 1) * 32)
    assert layers["pool1"] == ((14, 14, 32), 0)
    assert layers["pad2"] == ((18, 18, 32), 0)
    assert layers["conv2"] == ((14, 14, 64), (5 * 5 * 32 + 1) * 64)
    assert layers["pool5"] == ((3, 3, 256), 0)
    assert layers["flatten"] == ((2304,), 0)
    assert graph.total_params == 3_900_938


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_bundled_spec_analyses_without_warnings(name: str) -> None:
    graph = bundled(name)
    assert graph.warnings == []
    assert graph.total_params == sum(n.params for n in graph.nodes)
    assert all(n.trainable <= n.params for n in graph.nodes)


# --- receptive fields ------------------------------------------------------------------------------


def test_receptive_fields_of_alexnet_by_hand() -> None:
    # r_out = r_in + (k - 1) * d * j_in ; j_out = j_in * s, starting from r = j = 1 on the input
    expected = {}
    r, j = 1, 1
    for name, k, s in [("conv1", 11, 4), ("pool1", 3, 2), ("conv2", 5, 1), ("pool2", 3, 2), ("conv3", 3, 1),
                       ("conv4", 3, 1), ("conv5", 3, 1), ("pool5", 3, 2)]:
        r, j = r + (k - 1) * j, j * s
        expected[name] = (r, j)
    assert expected["conv1"] == (11, 4)
    assert expected["pool1"] == (19, 8)
    assert expected["conv2"] == (51, 8)
    assert expected["pool2"] == (67, 16)
    assert expected["conv5"] == (163, 16)
    assert expected["pool5"] == (195, 32)
    graph = bundled("alexnet")
    for name, (size, stride) in expected.items():
        node = graph.node(name)
        assert (node.field.size, node.field.stride) == ((size, size), (stride, stride)), name


def test_receptive_field_json_and_table() -> None:
    graph = bundled("alexnet")
    layers = {layer["name"]: layer for layer in report.to_dict(graph)["layers"]}
    assert layers["conv2"]["receptive_field"] == {"size": [51, 51], "stride": [8, 8]}
    rows = {row[0]: row for row in report.rows(graph)}
    assert rows["input"][-1] == "1/1"
    assert rows["pool1"][-1] == "19/8"


def test_receptive_field_with_dilation_and_rectangular_kernels(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - {type: conv2d, name: a, filters: 4, kernel_size: 3, dilation_rate: 2}
        - {type: conv2d, name: b, filters: 4, kernel_size: [1, 3], strides: [1, 2]}
        - {type: max_pool2d, name: c, pool_size: [2, 1]}
    """))
    a, b, c = graph.node("a"), graph.node("b"), graph.node("c")
    assert (a.field.size, a.field.stride, a.shape) == ((5, 5), (1, 1), (28, 28, 4))
    assert (b.field.size, b.field.stride, b.shape) == ((5, 7), (1, 2), (28, 13, 4))
    assert (c.field.size, c.field.stride, c.shape) == ((6, 7), (2, 2), (14, 13, 4))


def test_concatenate_takes_the_largest_receptive_field() -> None:
    graph = bundled("alexnet_two_tower")
    merge2 = graph.node("merge2")
    assert merge2.field.size == graph.node("t1_pool2").field.size == (67, 67)
    assert merge2.field.stride == (16, 16)


# --- TensorFlow 'same' padding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "pads"),
    [
        (27, 5, 1, 1, (2, 2)),  # odd kernel, stride 1: symmetric
        (13, 3, 1, 1, (1, 1)),
        (4, 2, 1, 1, (0, 1)),  # even kernel: the extra cell goes after (bottom/right)
        (10, 4, 1, 1, (1, 2)),
        (5, 3, 2, 1, (1, 1)),  # stride 2, odd input: out 3, total 2
        (6, 3, 2, 1, (0, 1)),  # stride 2, even input: out 3, total 1, asymmetric
        (7, 2, 2, 1, (0, 1)),
        (8, 4, 4, 1, (0, 0)),  # the window tiles the input exactly
        (7, 1, 2, 1, (0, 0)),
        (224, 11, 4, 1, (3, 4)),  # the paper's 224: total 7
        (227, 11, 4, 1, (4, 4)),
        (13, 3, 1, 2, (2, 2)),  # dilation 2: effective kernel 5
        (2, 7, 1, 1, (3, 3)),  # kernel larger than the input
    ],
)
def test_same_pads_known_answers(size: int, kernel: int, stride: int, dilation: int, pads: tuple[int, int]) -> None:
    assert same_pads(size, kernel, stride, dilation) == pads


@given(st.integers(1, 300), st.integers(1, 15), st.integers(1, 6), st.integers(1, 3))
def test_same_pads_give_ceil_n_over_s_with_the_extra_cell_after(size: int, kernel: int, stride: int,
                                                                dilation: int) -> None:
    before, after = same_pads(size, kernel, stride, dilation)
    effective = (kernel - 1) * dilation + 1
    assert 0 <= before <= after <= before + 1
    assert (size + before + after - effective) // stride + 1 == math.ceil(size / stride)
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    assert before + after == total


def test_same_padding_in_a_network_is_asymmetric_for_stride_2(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - {type: conv2d, name: even, filters: 4, kernel_size: 4, strides: 2, padding: same}
        - {type: max_pool2d, name: pool, pool_size: 3, strides: 2, padding: same}
        - {type: conv2d, name: odd, filters: 4, kernel_size: 3, padding: same}
    """))
    even, pool, odd = graph.node("even"), graph.node("pool"), graph.node("odd")
    assert even.shape == (16, 16, 4) and even.window.pads == ((1, 1), (1, 1))  # 32: total (15*2+4-32) = 2
    assert pool.shape == (8, 8, 4) and pool.window.pads == ((0, 1), (0, 1))  # 16: total (7*2+3-16) = 1
    assert not pool.window.symmetric
    assert odd.shape == (8, 8, 4) and odd.window.pads == ((1, 1), (1, 1))


def test_alexnet_conv2_same_padding_is_two_each_side() -> None:
    conv2 = bundled("alexnet").node("conv2")
    assert conv2.window.pads == ((2, 2), (2, 2))
    assert conv2.window.symmetric


# --- MACs ----------------------------------------------------------------------------------------------


def test_macs_of_one_conv_layer_by_hand() -> None:
    graph = bundled("alexnet")
    # every one of the 55*55*96 outputs sums 11*11*3 products
    assert graph.node("conv1").macs == 55 * 55 * 96 * (11 * 11 * 3) == 105_415_200
    assert graph.node("conv2").macs == 27 * 27 * 256 * (5 * 5 * 96)
    assert graph.node("fc6").macs == 9216 * 4096


def test_macs_of_a_grouped_conv_are_divided_by_groups() -> None:
    paper, alexnet = bundled("alexnet_paper"), bundled("alexnet")
    assert paper.node("conv2").macs == 27 * 27 * 256 * (5 * 5 * 48)
    assert paper.node("conv2").macs * 2 == alexnet.node("conv2").macs


def test_total_macs_and_memory_of_alexnet() -> None:
    graph = bundled("alexnet")
    assert graph.macs == sum(n.macs for n in graph.nodes) == report.to_dict(graph)["macs"]
    assert graph.activation_count == 227 * 227 * 3 + sum(math.prod(n.shape) for n in graph.nodes)
    summary = dict(report.summary_lines(graph))
    assert summary["parameters"] == "62,378,344"
    assert summary["weight memory (fp32)"] == f"{62_378_344 * 4 / 2**20:,.1f} MiB"


# --- the other rules ---------------------------------------------------------------------------------


def test_explicit_padding_forms(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - {type: zero_padding2d, name: p1, padding: 1}
        - {type: zero_padding2d, name: p2, padding: [2, 0]}
        - {type: zero_padding2d, name: p3, padding: [[1, 0], [0, 3]]}
        - {type: conv2d, name: c, filters: 2, kernel_size: 3, padding: [[0, 1], [2, 0]]}
    """))
    assert graph.node("p1").shape == (34, 34, 3)
    assert graph.node("p2").shape == (38, 34, 3)
    assert graph.node("p3").shape == (39, 37, 3)
    assert graph.node("c").shape == (38, 37, 2)  # 39 + 0 + 1 - 2, 37 + 2 + 0 - 2
    assert graph.node("c").window.pads == ((0, 1), (2, 0))
    assert explicit_pads(2) == ((2, 2), (2, 2))
    assert explicit_pads([1, 2]) == ((1, 1), (2, 2))


def test_pool_strides_default_to_the_pool_size(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - {type: max_pool2d, name: a}
        - {type: avg_pool2d, name: b, pool_size: 3}
        - {type: avg_pool2d, name: c, pool_size: 2, strides: 1, padding: same}
    """))
    assert graph.node("a").shape == (16, 16, 3)
    assert graph.node("b").shape == (5, 5, 3)
    assert graph.node("c").shape == (5, 5, 3)


def test_default_names_count_each_type_from_one(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - {type: conv2d, filters: 4, kernel_size: 3}
        - {type: conv2d, filters: 4, kernel_size: 3}
        - {type: max_pool2d}
        - {type: conv2d, name: named, filters: 4, kernel_size: 3}
        - {type: conv2d, filters: 4, kernel_size: 3}
        - {type: flatten}
        - {type: dense, units: 10, activation: softmax}
    """))
    assert [n.name for n in graph.nodes] == ["conv2d_1", "conv2d_2", "max_pool2d_1", "named", "conv2d_4",
                                             "flatten_1", "dense_1"]
    assert graph.is_chain
    assert graph.nodes[0].inputs == ["input"]


def test_parameter_free_layers_and_use_bias(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - {type: conv2d, name: c, filters: 8, kernel_size: 3, use_bias: false}
        - {type: lrn, name: n}
        - {type: batch_norm, name: bn}
        - {type: activation, name: act, activation: relu}
        - {type: dropout, name: d, rate: 0.25}
        - {type: global_avg_pool2d, name: g}
        - {type: dense, name: fc, units: 5, use_bias: false}
    """))
    layers = by_name(graph)
    assert layers["c"] == ((30, 30, 8), 3 * 3 * 3 * 8)
    assert layers["n"] == ((30, 30, 8), 0)
    assert layers["bn"] == ((30, 30, 8), 32)
    assert layers["act"] == ((30, 30, 8), 0)
    assert layers["d"] == ((30, 30, 8), 0)
    assert layers["g"] == ((8,), 0)
    assert layers["fc"] == ((5,), 8 * 5)
    assert graph.node("n").macs == 0 and graph.node("n").other_ops == 30 * 30 * 8 * 5  # MACs: weights only


def test_adaptive_average_pooling_uses_pytorch_bins(analyze_text) -> None:
    assert adaptive_bins(13, 6) == [(0, 3), (2, 5), (4, 7), (6, 9), (8, 11), (10, 13)]
    assert adaptive_bins(6, 6) == [(i, i + 1) for i in range(6)]
    graph = analyze_text(spec_text("""
        - {type: adaptive_avg_pool2d, name: a, output_size: [6, 4]}
        - {type: flatten}
    """))
    assert graph.node("a").shape == (6, 4, 3)
    assert graph.output.shape == (72,)


def test_concatenate_axes_follow_keras(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - {type: conv2d, name: a, filters: 4, kernel_size: 3, inputs: [input]}
        - {type: conv2d, name: b, filters: 6, kernel_size: 3, inputs: [input]}
        - {type: concatenate, name: channels, inputs: [a, b]}
        - {type: concatenate, name: channels3, inputs: [a, b], axis: 3}
        - {type: conv2d, name: c, filters: 4, kernel_size: 3, inputs: [input]}
        - {type: concatenate, name: height, inputs: [a, c], axis: 1}
        - {type: concatenate, name: width, inputs: [a, c], axis: -2}
        - {type: flatten, name: f1, inputs: [channels]}
        - {type: flatten, name: f2, inputs: [channels3]}
        - {type: flatten, name: f3, inputs: [height]}
        - {type: flatten, name: f4, inputs: [width]}
        - {type: concatenate, name: out, inputs: [f1, f2, f3, f4]}
    """))
    assert graph.node("channels").shape == (30, 30, 10)
    assert graph.node("channels3").shape == (30, 30, 10)
    assert graph.node("height").shape == (60, 30, 4)
    assert graph.node("width").shape == (30, 60, 4)
    assert graph.output.shape == (2 * 9000 + 2 * 7200,)
    assert not graph.is_chain
    assert graph.node("out").inputs == ["f1", "f2", "f3", "f4"]


def test_the_json_report_matches_the_graph() -> None:
    graph = bundled("alexnet_two_tower")
    data = report.to_dict(graph)
    assert data["total_params"] == 60_965_224
    assert data["input_shape"] == [227, 227, 3]
    assert data["output_shape"] == [1000]
    assert [layer["name"] for layer in data["layers"]] == [n.name for n in graph.nodes]
    assert data["layers"][0]["inputs"] == ["input"]
    assert {"name": "merge2", "inputs": ["t1_pool2", "t2_pool2"]}.items() <= data["layers"][8].items()
