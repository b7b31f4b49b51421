"""The PyTorch emitter: the lines it generates for each semantic decision, and what they compute."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from alexgen.frameworks import import_source
from alexgen.render import RenderError, environment, render_module
from alexgen.targets import pytorch
from alexgen.targets.common import Meta
from alexgen.validate import graph_from_text

ROOT = Path(__file__).resolve().parents[1]
HEADER = "alexgen: 1\nname: {name}\ninput_shape: {shape}\nlayers:\n"


def spec(layers: str, shape: str = "[16, 16, 3]", name: str = "probe", tail: str = "") -> str:
    """A small spec text from its layers (one YAML flow mapping per line)."""
    body = textwrap.indent(textwrap.dedent(layers).strip("\n"), "  ")
    return HEADER.format(name=name, shape=shape) + body + "\n" + textwrap.dedent(tail)


def render(text: str, name: str = "probe") -> str:
    """The formatted PyTorch module of a spec text."""
    return render_module(graph_from_text(text, f"{name}.yaml"), "pytorch", environment(), f"{name}.yaml")


def import_module(source: str, name: str, folder: Path) -> ModuleType:
    """Import generated source as a fresh module."""
    return import_source(name, source, folder)


# layer on a 16x16x3 input -> the OrderedDict entries it becomes (before ruff turns ' into ")
PADDING_CASES = [
    ("{type: conv2d, name: c, filters: 8, kernel_size: 3, padding: same}",
     ["('c', nn.Conv2d(3, 8, kernel_size=3, padding=1)),"]),
    ("{type: conv2d, name: c, filters: 8, kernel_size: 3, strides: 2, padding: same}",  # TF: 0 before, 1 after
     ["('c_pad', nn.ZeroPad2d((0, 1, 0, 1))),", "('c', nn.Conv2d(3, 8, kernel_size=3, stride=2)),"]),
    ("{type: conv2d, name: c, filters: 8, kernel_size: 4, padding: same}",  # even kernel: 1 before, 2 after
     ["('c_pad', nn.ZeroPad2d((1, 2, 1, 2))),", "('c', nn.Conv2d(3, 8, kernel_size=4)),"]),
    ("{type: conv2d, name: c, filters: 8, kernel_size: 3, padding: [[1, 0], [0, 2]]}",
     ["('c_pad', nn.ZeroPad2d((0, 2, 1, 0))),", "('c', nn.Conv2d(3, 8, kernel_size=3)),"]),
    ("{type: conv2d, name: c, filters: 8, kernel_size: 3, padding: [1, 2], groups: 1, use_bias: false}",
     ["('c', nn.Conv2d(3, 8, kernel_size=3, padding=(1, 2), bias=False)),"]),
    ("{type: max_pool2d, name: p, pool_size: 3, strides: 2, padding: same}",
     ["""('p_pad', nn.ConstantPad2d((0, 1, 0, 1), value=float("-inf"))),""",
      "('p', nn.MaxPool2d(kernel_size=3, stride=2)),"]),
    ("{type: max_pool2d, name: p, pool_size: 3, strides: 1, padding: same}",
     ["('p', nn.MaxPool2d(kernel_size=3, stride=1, padding=1)),"]),
    ("{type: avg_pool2d, name: p, pool_size: 3, strides: 1, padding: same}",
     ["('p', nn.AvgPool2d(kernel_size=3, stride=1, padding=1, count_include_pad=False)),"]),
    ("{type: avg_pool2d, name: p, pool_size: 3, strides: 2, padding: same}",
     ["('p', AvgPool2dSame(3, 2, (0, 1, 0, 1))),"]),
    ("{type: avg_pool2d, name: p, pool_size: 2}", ["('p', nn.AvgPool2d(kernel_size=2, stride=2)),"]),
    ("{type: zero_padding2d, name: z, padding: [[0, 1], [2, 3]]}", ["('z', nn.ZeroPad2d((2, 3, 0, 1))),"]),
]


@pytest.mark.parametrize(("layer", "expected"), PADDING_CASES, ids=[c[0][7:40] for c in PADDING_CASES])
def test_padding_decisions_become_explicit_modules(layer: str, expected: list[str]) -> None:
    text = spec(f"- {layer}")
    context = pytorch.build_context(graph_from_text(text, "probe.yaml"), Meta("probe.yaml", "0" * 64, "pytorch"))
    entries = [line.split("  #")[0] for line in context.features[0].lines if not line.startswith("#")]
    assert entries == expected
    assert 'padding="same"' not in render(text)


def test_lrn_alpha_is_multiplied_by_size_and_computes_the_papers_formula(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    source = render(spec("- {type: lrn, name: norm, size: 5, alpha: 0.01, beta: 0.75, bias: 2.0}", "[3, 3, 7]"))
    assert '("norm", LocalResponseNorm(5, alpha=0.05, beta=0.75, k=2.0)),' in source
    module = import_module(source, "pt_lrn", tmp_path)
    x = torch.randn(2, 7, 3, 3) * 3
    expected = torch.empty_like(x)
    for c in range(7):
        window = x[:, max(0, c - 2): c + 3]
        expected[:, c] = x[:, c] / (2.0 + 0.01 * (window**2).sum(1)) ** 0.75
    torch.testing.assert_close(module.build_model()(x), expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_uses_keras_epsilon_momentum_and_biased_variance(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    source = render(spec("""
        - {type: batch_norm, name: bn1, momentum: 0.9}
        - {type: flatten, name: flat}
        - {type: batch_norm, name: bn2}
    """, "[2, 2, 3]"))
    assert '("bn1", BatchNorm2d(3, eps=0.001, momentum=0.1)),' in source  # not 0.09999999999999998
    assert '("bn2", BatchNorm1d(12, eps=0.001, momentum=0.01)),' in source
    model = import_module(source, "pt_bn", tmp_path).build_model().train()
    x = torch.randn(4, 3, 2, 2)
    out = model.features.bn1(x)
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), correction=0)  # Keras: biased variance
    torch.testing.assert_close(model.features.bn1.running_mean, 0.1 * mean)
    torch.testing.assert_close(model.features.bn1.running_var, 0.9 + 0.1 * var)
    normalized = (x - mean[:, None, None]) / torch.sqrt(var[:, None, None] + 1e-3)
    torch.testing.assert_close(out, normalized, rtol=1e-5, atol=1e-5)


def test_same_pooling_matches_tensorflow_on_negative_inputs(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    source = render(spec("""
        - {type: max_pool2d, name: mp, pool_size: 3, strides: 2, padding: same, inputs: [input]}
        - {type: avg_pool2d, name: ap, pool_size: 3, strides: 2, padding: same, inputs: [input]}
        - {type: concatenate, name: both, inputs: [mp, ap]}
    """, "[4, 4, 1]"))
    x = -torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)  # all negative: zero padding would win the max
    out = import_module(source, "pt_pool", tmp_path).build_model()(x)
    padded = torch.nn.functional.pad(x, (0, 1, 0, 1), value=float("nan"))  # TF: the extra cell bottom/right
    windows = padded.unfold(2, 3, 2).unfold(3, 3, 2).reshape(1, 1, 2, 2, 9)
    real = ~windows.isnan()
    expected_max = windows.nan_to_num(float("-inf")).amax(-1)
    expected_avg = windows.nan_to_num(0.0).sum(-1) / real.sum(-1)  # divide by real cells only
    torch.testing.assert_close(out, torch.cat([expected_max, expected_avg], 1))


def test_graph_concatenate_maps_keras_axes_to_nchw_dims() -> None:
    source = render(spec("""
        - {type: conv2d, name: a, filters: 2, kernel_size: 1, inputs: [input]}
        - {type: conv2d, name: b, filters: 2, kernel_size: 1, inputs: [input]}
        - {type: concatenate, name: channels, inputs: [a, b]}
        - {type: concatenate, name: rows, inputs: [a, b], axis: 1}
        - {type: concatenate, name: columns, inputs: [a, b], axis: -2}
        - {type: flatten, name: f1, inputs: [channels]}
        - {type: flatten, name: f2, inputs: [columns]}
        - {type: concatenate, name: flat, inputs: [f1, f2]}
    """, "[2, 2, 1]"))
    for line in ("channels = torch.cat([a, b], dim=1)", "rows = torch.cat([a, b], dim=2)",
                 "columns = torch.cat([a, b], dim=3)", "flat = torch.cat([f1, f2], dim=1)"):
        assert line in source


@pytest.mark.parametrize("name", ["forward", "features", "train", "state_dict", "to"])
def test_layer_names_that_shadow_module_attributes_are_diagnosed(name: str) -> None:
    with pytest.raises(RenderError) as info:
        render(spec(f"- {{type: conv2d, name: {name}, filters: 2, kernel_size: 1}}"))
    message = info.value.diagnostics[0].format()
    assert f"'{name}' would shadow the nn.Module attribute" in message and "pytorch" in message


def test_derived_module_names_that_collide_are_diagnosed() -> None:
    with pytest.raises(RenderError, match="'c_relu' is used twice"):
        render(spec("""
            - {type: conv2d, name: c, filters: 2, kernel_size: 1, activation: relu}
            - {type: activation, name: c_relu, activation: relu}
        """))


def test_graph_variables_avoid_names_the_forward_uses() -> None:
    source = render(spec("""
        - {type: conv2d, name: x, filters: 2, kernel_size: 1, inputs: [input]}
        - {type: conv2d, name: F, filters: 2, kernel_size: 1, inputs: [input]}
        - {type: concatenate, name: torch, inputs: [x, F]}
    """))
    assert "x_ = self.x(x)" in source and "F_ = self.F(x)" in source
    assert "torch_ = torch.cat([x_, F_], dim=1)" in source and "return torch_" in source


def test_initializers_follow_keras_defaults_and_truncated_normal_correction() -> None:
    graph = graph_from_text(spec("""
        - {type: conv2d, name: c, filters: 4, kernel_size: 3, kernel_initializer: he_normal}
        - {type: conv2d, name: d, filters: 4, kernel_size: 1, groups: 2, bias_initializer: ones}
    """), "probe.yaml")
    lines = pytorch.build_context(graph, Meta("probe.yaml", "0" * 64, "pytorch")).init_lines
    std = (2 / (3 * 3 * 3)) ** 0.5 / 0.87962566103423978  # Keras: truncated at 2 std, fan_in = 3 * 3 * 3
    assert f"nn.init.trunc_normal_(self.features.c.weight, std={std!r}, a={-2 * std!r}, b={2 * std!r})" in lines
    assert "nn.init.zeros_(self.features.c.bias)" in lines  # Keras's default bias, not PyTorch's
    assert lines[-2:] == ["nn.init.xavier_uniform_(self.features.d.weight)", "nn.init.ones_(self.features.d.bias)"]


TRAINING = """
training:
  optimizer: {type: adam, learning_rate: 0.001, beta_1: 0.8, beta_2: 0.99, epsilon: 1.0e-6}
  loss: LOSS
  lr_schedule: {type: reduce_on_plateau, factor: 0.5, patience: 3, monitor: val_accuracy}
"""


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_loss_never_applies_softmax_twice(loss: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    layers = "- {type: flatten, name: f}\n- {type: dense, name: out, units: 5, activation: ACT}"
    logits = torch.randn(6, 5) * 3
    labels = torch.randint(0, 5, (6,))
    targets = labels if loss.startswith("sparse") else functional.one_hot(labels, 5).float()
    expected = functional.cross_entropy(logits, labels)
    results = {}
    for activation in ("softmax", "linear"):
        text = spec(layers.replace("ACT", activation), "[2, 2, 1]", tail=TRAINING.replace("LOSS", loss))
        module = import_module(render(text), f"pt_loss_{activation}_{loss}", tmp_path)
        outputs = torch.softmax(logits, 1) if activation == "softmax" else logits
        results[activation] = module.loss_fn(outputs, targets)
        torch.testing.assert_close(module.predict_proba(outputs), torch.softmax(logits, 1))
    torch.testing.assert_close(results["softmax"], expected)
    torch.testing.assert_close(results["linear"], expected)


def test_training_helpers_state_every_value_from_the_spec(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    text = spec("""
        - {type: conv2d, name: c, filters: 2, kernel_size: 1, kernel_regularizer: {l1: 0.01, l2: 0.1}}
        - {type: flatten, name: f}
        - {type: dense, name: out, units: 3, activation: softmax, kernel_regularizer: {l2: 0.1}}
    """, "[2, 2, 1]", tail=TRAINING.replace("LOSS", "categorical_crossentropy"))
    source = render(text)
    assert "KerasAdam(model.parameters(), lr=0.001, betas=(0.8, 0.99), epsilon=1e-06)" in source
    assert 'mode="max"' in source and "patience=2" in source and 'threshold_mode="abs"' in source
    module = import_module(source, "pt_training", tmp_path)
    model = module.build_model()
    conv, dense = model.features.c.weight, model.classifier.out.weight
    expected = 0.01 * conv.abs().sum() + 0.1 * conv.square().sum() + 0.1 * dense.square().sum()
    torch.testing.assert_close(module.regularization_loss(model), expected)
    assert isinstance(module.make_scheduler(module.make_optimizer(model)), torch.optim.lr_scheduler.ReduceLROnPlateau)


@pytest.mark.parametrize("spec_path", sorted((ROOT / "spec").glob("*.yaml")), ids=lambda p: p.stem)
def test_bundled_specs_render_ruff_clean(spec_path: Path, tmp_path: Path) -> None:
    graph = graph_from_text(spec_path.read_text(encoding="utf-8"), f"spec/{spec_path.name}")
    path = tmp_path / f"{graph.name}.py"
    path.write_text(render_module(graph, "pytorch", environment(), f"spec/{spec_path.name}"), encoding="utf-8")
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP", "--line-length",
               "100", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_reserved_attribute_list_covers_this_torch() -> None:
    nn = pytest.importorskip("torch.nn")
    public = {name for name in dir(nn.Sequential()) if not name.startswith("_")}
    assert public <= pytorch.MODULE_ATTRIBUTES, sorted(public - pytorch.MODULE_ATTRIBUTES)


@pytest.mark.parametrize("name", ["f", "batch_norm2d", "ordered_dict"])
def test_spec_names_whose_class_would_shadow_a_module_name_are_diagnosed(name: str) -> None:
    with pytest.raises(RenderError, match="cannot use the class name"):
        render(spec("- {type: flatten, name: flat}", name=name), name)


TORCHVISION_TAIL = """
    - {type: conv2d, name: conv1, filters: 4, kernel_size: 3, activation: relu}
    - {type: adaptive_avg_pool2d, name: avgpool, output_size: 3}
    - {type: flatten, name: flatten}
    - {type: dense, name: classifier_fc, units: 5}
"""


def test_an_adaptive_pool_before_the_flatten_sits_apart_as_torchvisions_avgpool(tmp_path: Path) -> None:
    import torch

    source = render(spec(TORCHVISION_TAIL))
    init = source[source.index("self.features"):source.index("self.reset_parameters()")]
    assert init.index("self.features") < init.index("self.avgpool = nn.AdaptiveAvgPool2d(3)") < init.index(
        "self.classifier")
    assert ('("avgpool"' not in source)  # not also inside features
    forward = source[source.index("def forward"):]
    assert forward.index("self.features(x)") < forward.index("self.avgpool(x)") < forward.index("torch.flatten(x, 1)")
    model = import_module(source, "probe_avgpool", tmp_path).build_model(channels_last=False)
    assert [name for name, _ in model.named_children()] == ["features", "avgpool", "classifier"]
    x = torch.randn(2, 3, 16, 16)
    expected = model.classifier(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(model.features(x), 3), 1))
    torch.testing.assert_close(model(x), expected)


def test_an_adaptive_pool_followed_by_more_features_stays_inside_them() -> None:
    source = render(spec("""
        - {type: adaptive_avg_pool2d, name: squeeze, output_size: 8}
        - {type: conv2d, name: conv1, filters: 4, kernel_size: 3}
        - {type: flatten, name: flatten}
        - {type: dense, name: fc, units: 5}
    """))
    assert '("squeeze", nn.AdaptiveAvgPool2d(8))' in source
    assert "self.squeeze" not in source
