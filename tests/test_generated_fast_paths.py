"""The generated models' fast paths (channels_last, inference_mode, torch.compile, tf.function, jit_compile)
compute what the plain model computes."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("keras")

import torch  # noqa: E402

from alexgen.frameworks import import_source  # noqa: E402
from alexgen.render import environment, render_module  # noqa: E402
from alexgen.validate import graph_from_text  # noqa: E402

SPEC = """\
alexgen: 1
name: fast_paths
input_shape: [20, 20, 3]
layers:
  - {type: conv2d, name: conv1, filters: 6, kernel_size: 5, strides: 2, activation: relu}
  - {type: max_pool2d, name: pool1, pool_size: 3, strides: 2}
  - {type: conv2d, name: conv2, filters: 8, kernel_size: 3, padding: same, activation: relu}
  - {type: flatten, name: flatten}
  - {type: dense, name: fc, units: 16, activation: relu}
  - {type: dropout, name: drop, rate: 0.5}
  - {type: dense, name: predictions, units: 4, activation: softmax}
"""


def module(target: str) -> ModuleType:
    """The spec's generated module for one target."""
    graph = graph_from_text(SPEC, "fast_paths.yaml")
    return import_source(f"fast_paths_{target}", render_module(graph, target, environment(), "fast_paths.yaml"))


def test_pytorch_channels_last_and_predict_compute_the_plain_outputs() -> None:
    generated = module("pytorch")
    torch.manual_seed(0)
    plain = generated.build_model(channels_last=False)
    fast = generated.build_model()
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in fast.parameters() if p.dim() == 4)
    assert not all(p.is_contiguous(memory_format=torch.channels_last) for p in plain.parameters() if p.dim() == 4)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(5, 3, 20, 20)
    plain.eval()
    with torch.no_grad():
        expected = plain(x)
    fast.train()
    probabilities = generated.predict(fast, x)
    assert fast.training  # predict restores the mode it found
    assert probabilities.is_inference() and probabilities.shape == (5, 4)
    torch.testing.assert_close(probabilities, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(5))


def test_pytorch_compile_is_opt_in() -> None:
    generated = module("pytorch")
    assert not hasattr(generated.build_model(), "_orig_mod")
    compiled = generated.build_model(compile=True)  # compiles lazily, on the first call
    assert isinstance(compiled._orig_mod, generated.FastPaths)


def test_keras_predict_function_is_a_tf_function_with_the_model_outputs() -> None:
    generated = module("keras")
    model = generated.build_model()
    x = np.random.default_rng(0).standard_normal((5, 20, 20, 3)).astype("float32")
    predict = generated.make_predict_function(model)
    assert hasattr(predict, "get_concrete_function")  # traced once, not model.predict's per-call set-up
    np.testing.assert_allclose(np.asarray(predict(x)), np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(predict(x[:2])), np.asarray(model(x[:2], training=False)), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("jit_compile", [False, True, "auto"])
def test_keras_compile_model_takes_jit_compile(jit_compile: bool | str) -> None:
    generated = module("keras")
    model = generated.compile_model(generated.build_model(), jit_compile=jit_compile)
    assert model.optimizer is not None
    if jit_compile != "auto":
        assert model.jit_compile is jit_compile
