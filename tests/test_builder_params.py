"""Spec parameters in generated code: keyword arguments of the builders, computed sizes, the rule for the rest."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import ROOT

pytest.importorskip("torch")
pytest.importorskip("keras")

import torch  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from alexgen.cli import cli  # noqa: E402
from alexgen.frameworks import import_source  # noqa: E402
from alexgen.render import environment, render_module  # noqa: E402
from alexgen.targets.arguments import expression_code  # noqa: E402
from alexgen.validate import graph_from_text, load_graph  # noqa: E402

TORCH_OWN = {"weights": None, "channels_last": True, "compile": False}  # build_model's own keyword arguments
KERAS_OWN = {"weights": None}
SMALL = """\
alexgen: 1
name: params_small
params:
  num_classes: 5
  width: 4
  dropout: 0.25
  input_size: 12
input_shape: ["${input_size}", "${input_size}", 3]
layers:
  - {type: conv2d, name: conv1, filters: "${width}", kernel_size: 3, activation: relu}
  - {type: conv2d, name: conv2, filters: "${width * 2}", kernel_size: 3, padding: same, activation: relu}
  - {type: max_pool2d, name: pool1, pool_size: 2, strides: 2}
  - {type: global_avg_pool2d, name: gap}
  - {type: dense, name: fc, units: "${width * 4 + 2}", activation: relu}
  - {type: dropout, name: drop, rate: "${dropout}"}
  - {type: dense, name: predictions, units: "${num_classes}"}
"""
# `width` sets a flatten size here: PyTorch's nn.Linear needs it as a number, Keras infers it.
FLATTENED = """\
alexgen: 1
name: params_flat
params: {num_classes: 3, width: 2}
input_shape: [6, 6, 1]
layers:
  - {type: conv2d, name: conv, filters: "${width}", kernel_size: 3}
  - {type: flatten, name: flat}
  - {type: dense, name: predictions, units: "${num_classes}"}
"""


def modules(text: str, name: str, sets: tuple[str, ...] = ()) -> tuple[ModuleType, ModuleType, dict[str, str]]:
    """(Keras module, PyTorch module, sources) of a spec, rendered with `--set`s."""
    graph = graph_from_text(text, f"{name}.yaml", sets=sets)
    sources = {t: render_module(graph, t, environment(), f"{name}.yaml") for t in ("keras", "pytorch")}
    tag = "_".join(s.replace("=", "_").replace(".", "_") for s in sets)
    keras_module = import_source(f"{name}_keras_{tag}", sources["keras"])
    torch_module = import_source(f"{name}_torch_{tag}", sources["pytorch"])
    return keras_module, torch_module, sources


def keyword_defaults(function: object) -> dict[str, object]:
    """Keyword-only parameters and their defaults."""
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    return {p.name: p.default for p in parameters}


def test_sizes_and_rates_are_computed_from_the_arguments() -> None:
    _, _, sources = modules(SMALL, "params_small")
    torch_code, keras_code = sources["pytorch"], sources["keras"]
    assert "nn.Conv2d(width, width * 2, kernel_size=3, padding=1)" in torch_code
    assert "nn.Linear(width * 2, width * 4 + 2)" in torch_code
    assert "nn.Linear(width * 4 + 2, num_classes)" in torch_code
    assert "nn.Dropout(dropout)" in torch_code
    assert "layers.Conv2D(\n" in keras_code or "layers.Conv2D(width * 2," in keras_code
    assert "width * 2," in keras_code and "layers.Dense(num_classes" in keras_code
    assert "layers.Dropout(rate=dropout" in keras_code


def test_builders_take_the_parameters_as_keyword_arguments_with_the_spec_defaults() -> None:
    keras_module, torch_module, sources = modules(SMALL, "params_small")
    expected = {"num_classes": 5, "width": 4, "dropout": 0.25}
    assert keyword_defaults(torch_module.build_model) == {**expected, **TORCH_OWN}
    assert keyword_defaults(torch_module.ParamsSmall) == expected
    assert keyword_defaults(keras_module.build_model) == {**expected, **KERAS_OWN}
    assert keyword_defaults(keras_module.ParamsSmall) == {**expected, **KERAS_OWN}  # as keras.applications
    for source in sources.values():  # the input size sets INPUT_SHAPE: fixed, and the docstring says why
        assert "input_size=12: changing it changes the input shape" in source


def test_build_model_num_classes_gives_that_many_outputs_in_both_targets() -> None:
    keras_module, torch_module, _ = modules(SMALL, "params_small")
    x = np.random.default_rng(0).standard_normal((2, 12, 12, 3)).astype("float32")
    torch_model = torch_module.build_model(num_classes=10).eval()
    assert tuple(torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2))).shape) == (2, 10)
    keras_model = keras_module.build_model(num_classes=10)
    assert tuple(keras_model(x).shape) == (2, 10)


def test_arguments_give_the_network_rendered_with_set() -> None:
    """build_model(num_classes=10, width=3, dropout=0.5) is the module rendered with those --set values, given the
    same weights: same parameter names and shapes, same outputs."""
    values = {"num_classes": 10, "width": 3, "dropout": 0.5}
    sets = tuple(f"{k}={v}" for k, v in values.items())
    keras_default, torch_default, _ = modules(SMALL, "params_small")
    keras_set, torch_set, sources = modules(SMALL, "params_small", sets)
    assert keyword_defaults(torch_set.build_model) == {**values, **TORCH_OWN}
    assert keyword_defaults(keras_set.build_model) == {**values, **KERAS_OWN}
    x = np.random.default_rng(1).standard_normal((3, 12, 12, 3)).astype("float32")
    a, b = torch_default.build_model(**values).eval(), torch_set.build_model().eval()
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2))
        assert torch.equal(a(xt), b(xt)) and a(xt).shape == (3, 10)
    c, d = keras_default.build_model(**values), keras_set.build_model()
    assert [w.shape for w in c.get_weights()] == [w.shape for w in d.get_weights()]
    d.set_weights(c.get_weights())
    assert np.array_equal(np.asarray(c(x)), np.asarray(d(x)))


def test_weights_files_follow_the_model_the_arguments_built(tmp_path: Path) -> None:
    keras_module, torch_module, _ = modules(SMALL, "params_small")
    path = str(tmp_path / "w.safetensors")
    torch_module.save_weights(torch_module.build_model(num_classes=10), path)
    keras_module.load_weights(keras_module.build_model(num_classes=10), path)  # across frameworks
    torch_module.load_weights(torch_module.build_model(num_classes=10), path)
    with pytest.raises(ValueError, match="predictions.kernel.*expected F32 \\(18, 5\\)"):
        torch_module.load_weights(torch_module.build_model(), path)


def test_a_flatten_size_keeps_the_parameter_fixed_where_the_framework_needs_the_number() -> None:
    keras_module, torch_module, sources = modules(FLATTENED, "params_flat")
    assert keyword_defaults(torch_module.build_model) == {"num_classes": 3, **TORCH_OWN}
    assert "width=2: it is used outside the network definition, in neutral keys:" in sources["pytorch"]
    assert "((4, 4, width),)" in sources["pytorch"]  # the flatten order of the weights file needs the number
    assert keyword_defaults(keras_module.build_model) == {"num_classes": 3, "width": 2, **KERAS_OWN}
    model = keras_module.build_model(width=5)  # Keras infers the flatten size
    assert model.get_layer("predictions").get_weights()[0].shape == (80, 3)


@pytest.mark.parametrize(("name", "targets"), [
    ("weights", ("keras", "pytorch")), ("len", ("keras", "pytorch")), ("compile", ("keras", "pytorch")),
    ("torch", ("pytorch",)), ("ops", ("keras",)),
])
def test_a_parameter_named_like_a_generated_name_is_not_an_argument(name: str, targets: tuple[str, ...]) -> None:
    text = FLATTENED.replace("num_classes", name)
    keras_module, torch_module, sources = modules(text, f"shadow_{name}")
    builders = {"keras": keras_module.build_model, "pytorch": torch_module.build_model}
    for target in targets:
        assert keyword_defaults(builders[target]).get(name) != 3  # absent, or the builder's own argument
        assert f"{name}=3: its name is already used in the generated module." in sources[target]
        assert builders[target]() is not None


def test_a_layer_variable_never_shadows_an_argument() -> None:
    text = """\
alexgen: 1
name: shadow_layer
params: {units: 3}
input_shape: [1, 1, 4]
layers:
  - {type: flatten, name: flat}
  - {type: dense, name: units, units: 2}
  - {type: dense, name: side, units: 2, inputs: [flat]}
  - {type: concatenate, name: joined, inputs: [units, side]}
  - {type: dense, name: out, units: "${units}"}
"""
    keras_module, torch_module, sources = modules(text, "shadow_layer")
    assert "units_ = layers.Dense(2" in sources["keras"]
    assert keras_module.build_model(units=7).output_shape == (None, 7)
    assert torch_module.build_model(units=7)(torch.zeros(1, 4, 1, 1)).shape == (1, 7)


def test_a_parameter_used_only_by_training_is_fixed_and_says_where() -> None:
    text = FLATTENED.replace("params: {num_classes: 3, width: 2}", "params: {num_classes: 3, width: 2, lr: 0.01}")
    text += "training: {optimizer: {type: sgd, learning_rate: \"${lr}\"}}\n"
    _, torch_module, sources = modules(text, "params_lr")
    assert "lr" not in keyword_defaults(torch_module.build_model)
    assert "lr=0.01: changing it changes the optimizer lines" in sources["pytorch"]


def test_expression_code_inlines_derived_parameters_and_fixed_values() -> None:
    graph = graph_from_text("""\
alexgen: 1
name: derived
params: {width: 4, double: "${width * 2}", depth: 3}
input_shape: [1, 1, 4]
layers:
  - {type: flatten, name: flat}
  - {type: dense, name: fc, units: "${double + depth}"}
""", "derived.yaml")
    assert graph.origin is not None
    params = {p.name: p for p in graph.origin.resolved.params}
    assert expression_code("double + depth", params, {"width"}) == "(width * 2) + 3"
    assert expression_code("-(width // 3) % 2", params, {"width", "depth"}) == "- (width // 3) % 2"
    source = render_module(graph, "pytorch", environment(), "derived.yaml")
    assert "nn.Linear(4, (width * 2) + depth)" in source
    assert "double=8: derived from other parameters" in source


def test_headers_list_every_source_file_with_its_sha256() -> None:
    for target in ("keras", "pytorch"):
        header = (ROOT / "generated" / target / "alexnet.py").read_text().split('"""', 1)[0]
        for name in ("alexnet.yaml", "alexnet_plain.yaml"):
            digest = hashlib.sha256((ROOT / "spec" / name).read_bytes()).hexdigest()
            assert f"#   {digest} spec/{name}\n" in header
        graph = load_graph(ROOT / "spec" / "alexnet.yaml", "spec/alexnet.yaml")
        assert f"# spec sha256: {graph.sha256}\n" in header


def test_cli_check_with_set_num_classes_passes_on_a_small_spec(tmp_path: Path) -> None:
    spec = tmp_path / "params_small.yaml"
    spec.write_text(SMALL)
    result = CliRunner().invoke(cli, ["check", str(spec), "--set", "num_classes=10", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and any(r["check"] == "layer predictions (float64)" for r in report["checks"])


@pytest.mark.slow
def test_cli_check_with_set_num_classes_passes_on_full_size_alexnet() -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "alexgen", "check", "spec/alexnet.yaml", "--set", "num_classes=10",
                             "--format", "json"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=900,
                            check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads(result.stdout)["passed"]


def test_each_trial_rebuild_is_validated_once_for_both_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deciding which parameters become arguments rebuilds the spec with each one changed; the two targets ask
    for the same rebuilds, which are validated once and give the same modules as validating them again."""
    from alexgen import validate
    from alexgen.render import TARGETS, render_outputs

    spec = ROOT / "spec" / "vgg16.yaml"
    reference = render_outputs([(load_graph(spec, "spec/vgg16.yaml"), "spec/vgg16.yaml")], list(TARGETS))
    calls: list[tuple[str, ...]] = []
    real = validate.load_graph

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(tuple(args[3]) if len(args) > 3 else tuple(kwargs.get("sets", ())))  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(validate, "load_graph", counted)
    graph = validate.load_graph(spec, "spec/vgg16.yaml")
    outputs = render_outputs([(graph, "spec/vgg16.yaml")], list(TARGETS))
    assert [o.text for o in outputs] == [o.text for o in reference]
    assert calls[0] == () and len(calls) > 1, calls  # the spec, then its trial rebuilds
    assert len(calls[1:]) == len(set(calls[1:])), calls  # each distinct rebuild once, not once per target
