"""Issue 3, "Semantics both targets must share": one test per point, running the real frameworks.

Each test builds tiny generated modules (inputs of at most 16x16), compares Keras with PyTorch (and, where there
is one, with a formula written out in numpy), and also shows that the naive translation a converter might emit
gives different numbers, so the comparison is able to fail.
"""

from __future__ import annotations

import math
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from alexgen import check
from alexgen.check import Pair, Row, compare_layers, errors, random_weights, run_check
from alexgen.frameworks import generated_modules  # sets KERAS_BACKEND before keras is imported
from alexgen.validate import graph_from_text

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
F = torch.nn.functional

pytestmark = [pytest.mark.keras, pytest.mark.torch]
TOLERANCE = 1e-5  # relative to the largest magnitude, as `alexgen check`
HEADER = "alexgen: 1\nname: {name}\ninput_shape: {shape}\nlayers:\n"


def spec_graph(name: str, shape: str, layers: str, training: str = ""):
    """A tiny spec's graph (validated and analysed exactly as a file would be)."""
    text = (HEADER.format(name=name, shape=shape) + textwrap.indent(textwrap.dedent(layers).strip("\n"), "  ")
            + "\n" + textwrap.dedent(training))
    return graph_from_text(text, f"{name}.yaml")


def checked(graph) -> list[Row]:
    """`alexgen check` on a graph: every row must pass; prints the measured errors."""
    rows = run_check(graph, f"{graph.name}.yaml", tolerance=TOLERANCE)
    for row in rows:
        print(f"{graph.name}: {row.check}: {'pass' if row.passed else 'FAIL'} abs {row.max_abs} rel {row.max_rel}")
    failed = [f"{r.check}: {r.detail} (abs {r.max_abs}, rel {r.max_rel})" for r in rows if not r.passed]
    assert not failed, failed
    return rows


def nchw(x: np.ndarray):
    """A channels-last numpy batch as a PyTorch NCHW tensor."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def relative(reference: np.ndarray, other: np.ndarray) -> float:
    """Max error relative to the reference's largest magnitude; inf when the shapes differ."""
    return errors(reference, other)[1] if reference.shape == other.shape else math.inf


def submodule(pair: Pair, name: str):
    """The PyTorch module of a spec layer."""
    return dict(pair.torch.named_modules())[pair.prefixes[name]]


# --- (a) initializers as the spec says, Keras's defaults included ---------------------------------------------

INIT_LAYERS = """
- {type: conv2d, name: c1, filters: 16, kernel_size: 3}
- {type: conv2d, name: c2, filters: 32, kernel_size: 3, kernel_initializer: he_normal, bias_initializer: ones}
- {type: flatten, name: f}
- {type: dense, name: d1, units: 64, kernel_initializer: {type: random_normal, stddev: 0.01},
   bias_initializer: {type: constant, value: 0.5}}
- {type: dense, name: d2, units: 48, kernel_initializer: glorot_normal}
- {type: dense, name: d3, units: 10, kernel_initializer: {type: random_uniform, minval: -0.2, maxval: 0.1},
   bias_initializer: {type: truncated_normal, stddev: 0.3}}
"""


def initial_weights(framework: str) -> dict[str, np.ndarray]:
    """Freshly initialized tensors of the INIT_LAYERS network, in the neutral (Keras) layout."""
    from alexgen import weights

    graph = spec_graph("inits", "[8, 8, 4]", INIT_LAYERS)
    keras_module, torch_module = generated_modules(graph, "inits.yaml")
    if framework == "pytorch":
        torch.manual_seed(0)
        model = torch_module.build_model()
        return weights.torch_state_to_neutral(graph, model.state_dict(), weights.torch_prefixes(model))
    keras.utils.set_random_seed(0)
    return weights.keras_to_neutral(graph, keras_module.build_model())


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_initializers_follow_the_spec_and_keras_defaults(framework: str) -> None:
    w = {k: v.astype(np.float64) for k, v in initial_weights(framework).items()}
    # c1 says nothing: Keras's glorot_uniform, limit sqrt(6 / (fan_in + fan_out)), and zero bias. PyTorch's own
    # default (bound 1 / sqrt(fan_in) = 0.167 < 0.183, non-zero bias) fails both the range and the bias check.
    fan_in, fan_out = 3 * 3 * 4, 3 * 3 * 16
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w["c1.kernel"]).max() <= limit
    assert np.abs(w["c1.kernel"]).max() >= 0.95 * limit, "glorot_uniform fills [-limit, limit]"
    assert np.all(w["c1.bias"] == 0.0)
    # c2: he_normal is Keras's truncated normal: std sqrt(2 / fan_in) after the cut at 2 std of the drawn normal
    std = math.sqrt(2 / (3 * 3 * 16))
    cut = 2 * std / 0.87962566103423978
    assert np.abs(w["c2.kernel"]).max() <= cut * (1 + 1e-6)
    assert np.abs(w["c2.kernel"]).max() >= 0.9 * cut
    assert w["c2.kernel"].std() == pytest.approx(std, rel=0.05)
    assert np.all(w["c2.bias"] == 1.0)
    # d1: random_normal stddev 0.01, constant bias 0.5 exactly
    assert w["d1.kernel"].std() == pytest.approx(0.01, rel=0.05)
    assert abs(w["d1.kernel"].mean()) < 0.001
    assert np.all(w["d1.bias"] == np.float32(0.5))
    # d2: glorot_normal, truncated the same way as he_normal
    std = math.sqrt(2 / (64 + 48))
    assert np.abs(w["d2.kernel"]).max() <= 2 * std / 0.87962566103423978 * (1 + 1e-6)
    assert w["d2.kernel"].std() == pytest.approx(std, rel=0.05)
    assert np.all(w["d2.bias"] == 0.0)
    # d3: random_uniform [-0.2, 0.1]; truncated_normal bias within 2 std
    assert -0.2 <= w["d3.kernel"].min() < -0.19 and 0.09 < w["d3.kernel"].max() <= 0.1
    assert np.abs(w["d3.bias"]).max() <= 0.6 * (1 + 1e-6)


# --- (b) 'same' padding as TensorFlow computes it --------------------------------------------------------------

# On a 9x10 input the vertical and horizontal pads differ: (1, 1) and (0, 1) for k=3, s=2; the naive
# translations below are what a converter writes without TensorFlow's rule.
SAME_CASES = [
    ("conv-k3-s2", "{type: conv2d, name: l, filters: 4, kernel_size: 3, strides: 2, padding: same}",
     lambda x, m: F.conv2d(x, m.weight, m.bias, stride=2, padding=1)),  # k // 2: wrong on the 10 side
    ("conv-k4-s2", "{type: conv2d, name: l, filters: 4, kernel_size: 4, strides: 2, padding: same}",
     lambda x, m: F.conv2d(x, m.weight, m.bias, stride=2, padding=2)),
    ("conv-k2-s1", "{type: conv2d, name: l, filters: 4, kernel_size: 2, padding: same}",
     lambda x, m: F.conv2d(x, m.weight, m.bias, padding=1)),
    ("max-k3-s2", "{type: max_pool2d, name: l, pool_size: 3, strides: 2, padding: same}",  # zeros, not -inf
     lambda x, m: F.max_pool2d(F.pad(x, (0, 1, 1, 1)), 3, 2)),
    ("max-k2-s2", "{type: max_pool2d, name: l, pool_size: 2, strides: 2, padding: same}",
     lambda x, m: F.max_pool2d(F.pad(x, (0, 0, 0, 1)), 2, 2)),
    ("avg-k3-s2", "{type: avg_pool2d, name: l, pool_size: 3, strides: 2, padding: same}",  # counts the pads
     lambda x, m: F.avg_pool2d(F.pad(x, (0, 1, 1, 1)), 3, 2)),
    ("avg-k2-s1", "{type: avg_pool2d, name: l, pool_size: 2, strides: 1, padding: same}",
     lambda x, m: F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)),
]


@pytest.mark.parametrize(("layer", "naive"), [c[1:] for c in SAME_CASES], ids=[c[0] for c in SAME_CASES])
def test_same_padding_matches_tensorflow(layer: str, naive) -> None:
    # a second layer after the one under test: run_check cannot probe a one-layer network (see below)
    graph = spec_graph("same_pad", "[9, 10, 3]", f"- {layer}\n- {{type: activation, name: a, activation: linear}}")
    checked(graph)
    # negative inputs: a zero pad would win every max at the border
    pair = Pair(graph, "same_pad.yaml")
    pair.load(random_weights(graph, seed=1))
    x = -(np.abs(np.random.default_rng(2).normal(size=(2, 9, 10, 3))) + 0.1).astype(np.float32)
    keras_out, torch_out = pair.keras_outputs(x), pair.torch_outputs(x)
    row = compare_layers(graph, keras_out, torch_out, TOLERANCE)[0]
    print(f"same padding {layer}: negative inputs, max abs {row.max_abs:.2e}, rel {row.max_rel:.2e}")
    assert row.passed, row
    with torch.no_grad():
        wrong = naive(nchw(x), submodule(pair, "l") if "conv" in layer else None).numpy().transpose(0, 2, 3, 1)
    assert relative(keras_out["l"], wrong) > 1e-2, "the naive translation should differ"


# --- (c) explicit convolution padding in Keras ---------------------------------------------------------------

def test_explicit_conv_padding_is_zero_padding_then_valid_in_keras() -> None:
    graph = spec_graph("explicit_pad", "[8, 8, 3]", """
        - {type: conv2d, name: c1, filters: 4, kernel_size: 3, padding: [[1, 0], [2, 1]]}
        - {type: conv2d, name: c2, filters: 4, kernel_size: 3, padding: 1}
        - {type: conv2d, name: c3, filters: 4, kernel_size: 3, padding: [0, 2]}
        - {type: conv2d, name: c4, filters: 4, kernel_size: 1, padding: 0}
    """)
    keras_module, _ = generated_modules(graph, "explicit_pad.yaml")
    model = keras_module.build_model()
    kinds = [(type(layer).__name__, layer.name) for layer in model.layers]
    assert kinds == [("ZeroPadding2D", "c1_pad"), ("Conv2D", "c1"), ("ZeroPadding2D", "c2_pad"), ("Conv2D", "c2"),
                     ("ZeroPadding2D", "c3_pad"), ("Conv2D", "c3"), ("Conv2D", "c4")]
    assert [tuple(map(tuple, model.get_layer(f"c{i}_pad").padding)) for i in (1, 2, 3)] == [
        ((1, 0), (2, 1)), ((1, 1), (1, 1)), ((0, 0), (2, 2))]
    assert {model.get_layer(f"c{i}").padding for i in (1, 2, 3, 4)} == {"valid"}
    assert [tuple(model.get_layer(f"c{i}").output.shape[1:]) for i in (1, 2, 3, 4)] == [
        node.shape for node in graph.nodes]
    checked(graph)


# --- (d) LRN: the paper's formula in both -------------------------------------------------------------------

def lrn_numpy(x: np.ndarray, size: int, alpha: float, beta: float, bias: float) -> np.ndarray:
    """b[c] = a[c] / (bias + alpha * sum of a[c']**2 over the `size` channels centred on c) ** beta, NHWC."""
    half, channels = size // 2, x.shape[-1]
    out = np.empty_like(x, dtype=np.float64)
    for c in range(channels):
        window = x[..., max(0, c - half): min(channels, c + half + 1)].astype(np.float64)
        out[..., c] = x[..., c] / (bias + alpha * (window**2).sum(-1)) ** beta
    return out


@pytest.mark.parametrize("size", [3, 5])
def test_lrn_is_the_papers_formula_in_both_targets(size: int) -> None:
    alpha, beta, bias = 0.02, 0.75, 2.0
    graph = spec_graph("lrn_pair", "[5, 5, 7]", f"""
        - {{type: lrn, name: norm, size: {size}, alpha: {alpha}, beta: {beta}, bias: {bias}}}
        - {{type: activation, name: a, activation: linear}}
    """)
    pair = Pair(graph, "lrn_pair.yaml")
    x = (np.random.default_rng(3).normal(size=(2, 5, 5, 7)) * 3).astype(np.float32)
    keras_out, torch_out = pair.keras_outputs(x)["norm"], pair.torch_outputs(x)["norm"]
    paper = lrn_numpy(x, size, alpha, beta, bias)
    print(f"lrn size {size}: keras vs paper {relative(paper, keras_out):.2e}, pytorch vs paper "
          f"{relative(paper, torch_out):.2e}, keras vs pytorch {relative(keras_out, torch_out):.2e}")
    assert relative(paper, keras_out) <= TOLERANCE
    assert relative(paper, torch_out) <= TOLERANCE
    assert relative(keras_out, torch_out) <= TOLERANCE
    # PyTorch's LocalResponseNorm with the spec's alpha unconverted computes alpha / size: not the paper
    unconverted = torch.nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=bias)(nchw(x)).numpy()
    assert relative(paper, unconverted.transpose(0, 2, 3, 1)) > 1e-2
    tf = pytest.importorskip("tensorflow")  # and TensorFlow's op is the paper's with depth_radius = size // 2
    tf_out = tf.nn.local_response_normalization(x, depth_radius=size // 2, bias=bias, alpha=alpha, beta=beta)
    assert relative(paper, np.asarray(tf_out)) <= TOLERANCE


# --- (e) BatchNorm: inference and one training step ---------------------------------------------------------

BN_LAYERS = """
- {type: conv2d, name: c, filters: 4, kernel_size: 3}
- {type: batch_norm, name: bn1, momentum: 0.9, epsilon: 0.01}
- {type: flatten, name: f}
- {type: dense, name: d, units: 8}
- {type: batch_norm, name: bn2}
- {type: dense, name: out, units: 3, activation: softmax}
"""
SGD_TRAINING = """
training:
  optimizer: {type: sgd, learning_rate: 0.1, momentum: 0.9}
  loss: categorical_crossentropy
"""


def test_batch_norm_inference_and_moving_statistics_agree() -> None:
    rows = checked(spec_graph("bn_pair", "[6, 6, 3]", BN_LAYERS, SGD_TRAINING))
    by_check = {row.check: row for row in rows}
    assert by_check["layer bn1 (float64)"].passed and by_check["layer bn2 (float64)"].passed
    statistics = [row for name, row in by_check.items() if name.endswith("batch-norm moving statistics")]
    assert statistics and all(row.passed for row in statistics)  # float64 training steps, batch of 2


def test_batch_norm_training_step_uses_the_biased_variance_like_keras() -> None:
    graph = spec_graph("bn_step", "[1, 1, 8]", "- {type: flatten, name: f}\n- {type: batch_norm, name: bn}")
    _, torch_module = generated_modules(graph, "bn_step.yaml")
    x = np.random.default_rng(4).normal(2.0, 3.0, (2, 8)).astype(np.float32)  # n = 2: unbiased is twice biased
    keras_bn = keras.layers.BatchNormalization(epsilon=0.001, momentum=0.99)
    keras_bn(x, training=True)
    generated = torch_module.BatchNorm1d(8, eps=0.001, momentum=0.01).train()
    stock = torch.nn.BatchNorm1d(8, eps=0.001, momentum=0.01).train()
    for module in (generated, stock):
        module(torch.from_numpy(x))
    keras_var = np.asarray(keras_bn.moving_variance)
    print(f"batch norm moving variance: generated vs keras {relative(keras_var, generated.running_var.numpy()):.2e}")
    assert relative(keras_var, generated.running_var.numpy()) <= TOLERANCE
    assert relative(np.asarray(keras_bn.moving_mean), generated.running_mean.numpy()) <= TOLERANCE
    assert relative(keras_var, stock.running_var.numpy()) > 1e-2, "PyTorch's own BatchNorm1d uses n - 1"


# --- (f) flatten layout: the first dense layer after a flatten is permuted ---------------------------------------

FLAT_LAYERS = """
- {type: conv2d, name: c, filters: 5, kernel_size: 3, activation: relu}
- {type: flatten, name: f}
- {type: dense, name: d, units: 6}
"""


def test_flatten_then_dense_needs_the_row_permutation() -> None:
    graph = spec_graph("flat_pair", "[4, 4, 3]", FLAT_LAYERS)
    rows = checked(graph)
    assert {r.check for r in rows} >= {f"layer {name} ({dtype})" for name in "cd" for dtype in ("float64", "float32")}
    pair = Pair(graph, "flat_pair.yaml")
    tensors = random_weights(graph, seed=5)
    pair.load(tensors)
    x = np.random.default_rng(6).normal(size=(4, 4, 4, 3)).astype(np.float32)
    keras_out = pair.keras_outputs(x)["d"]
    assert relative(keras_out, pair.torch_outputs(x)["d"]) <= TOLERANCE
    with torch.no_grad():  # the converter's classic mistake: a plain transpose of the Keras kernel
        submodule(pair, "d").weight.copy_(torch.from_numpy(tensors["d.kernel"].T.copy()))
    unpermuted = pair.torch_outputs(x)["d"]
    print(f"flatten without the permutation: relative error {relative(keras_out, unpermuted):.2f}")
    assert relative(keras_out, unpermuted) > 0.1


# --- (g) a final softmax is never applied twice ------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["softmax", "linear"])
@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_loss_equals_cross_entropy_of_the_logits_in_both(activation: str, loss: str) -> None:
    graph = spec_graph("ce_pair", "[2, 2, 3]", f"""
        - {{type: flatten, name: f}}
        - {{type: dense, name: out, units: 5, activation: {activation}}}
    """, f"training:\n  optimizer: {{type: sgd}}\n  loss: {loss}\n")
    pair = Pair(graph, "ce_pair.yaml")
    tensors = random_weights(graph, seed=7)
    tensors["out.kernel"] *= 3  # confident predictions, so that a second softmax shows
    pair.load(tensors)
    x = np.random.default_rng(8).normal(size=(6, 2, 2, 3)).astype(np.float32)
    labels = np.random.default_rng(9).integers(0, 5, 6)
    targets = labels if loss.startswith("sparse") else np.eye(5, dtype=np.float32)[labels]
    model = pair.torch.eval()
    with torch.no_grad():
        outputs = model(nchw(x))
        logits = submodule(pair, "out")(torch.flatten(nchw(x), 1))
        expected = float(F.cross_entropy(logits, torch.from_numpy(labels)))
        got = float(pair.torch_module.loss_fn(outputs, torch.from_numpy(targets)))
        twice = float(F.cross_entropy(F.softmax(logits, 1), torch.from_numpy(labels)))
    pair.keras_module.compile_model(pair.keras)
    keras_loss = pair.keras.evaluate(x, targets, batch_size=6, verbose=0, return_dict=True)["loss"]
    print(f"{activation} + {loss}: cross-entropy {expected:.6f}, pytorch loss_fn {got:.6f}, keras {keras_loss:.6f}")
    assert got == pytest.approx(expected, rel=TOLERANCE)
    assert keras_loss == pytest.approx(expected, rel=TOLERANCE)
    assert abs(twice - expected) > 0.05, "softmax applied twice would be visible"


def test_loss_on_a_confident_mistake_is_unclipped_in_both() -> None:
    """Keras takes the softmax output's logits (no 1e-7 clipping), so a confident mistake costs its full log."""
    graph = spec_graph("ce_confident", "[1, 1, 2]", """
        - {type: flatten, name: f}
        - {type: dense, name: out, units: 3, activation: softmax, use_bias: false}
    """, "training:\n  optimizer: {type: sgd}\n  loss: sparse_categorical_crossentropy\n")
    pair = Pair(graph, "ce_confident.yaml")
    pair.load({"out.kernel": np.array([[30.0, 0.0, 0.0], [0.0, 0.0, 0.0]], np.float32)})
    x, labels = np.array([[[[1.0, 0.0]]]], np.float32), np.array([1])
    pair.keras_module.compile_model(pair.keras)
    keras_loss = pair.keras.evaluate(x, labels, verbose=0, return_dict=True)["loss"]
    with torch.no_grad():
        torch_loss = float(pair.torch_module.loss_fn(pair.torch.eval()(nchw(x)), torch.from_numpy(labels)))
    assert keras_loss == pytest.approx(30.0, rel=1e-5)  # clipping at 1e-7 would give -log(1e-7) = 16.1
    assert torch_loss == pytest.approx(30.0, rel=1e-5)


def test_generated_docstring_describes_the_loss_as_computed() -> None:
    graph = spec_graph("ce_doc", "[1, 1, 2]", "- {type: flatten, name: f}\n- {type: dense, name: out, units: 3, "
                       "activation: softmax}")
    _, torch_module = generated_modules(graph, "ce_doc.yaml")
    assert "clipped to" not in torch_module.__doc__ and "unclipped" in torch_module.__doc__


# --- (h) L1/L2 regularizers: the same penalty in both losses -----------------------------------------------------

def test_regularization_loss_equals_keras_losses() -> None:
    graph = spec_graph("reg_pair", "[6, 6, 3]", """
        - {type: conv2d, name: c, filters: 4, kernel_size: 3, kernel_regularizer: {l1: 0.01, l2: 0.02}}
        - {type: flatten, name: f}
        - {type: dense, name: d, units: 5, kernel_regularizer: {l2: 0.05}}
        - {type: dense, name: e, units: 3, kernel_regularizer: {l1: 0.003}}
    """)
    pair = Pair(graph, "reg_pair.yaml")
    tensors = random_weights(graph, seed=10)
    pair.load(tensors)
    with torch.no_grad():
        torch_penalty = float(pair.torch_module.regularization_loss(pair.torch))
    keras_penalty = float(sum(np.asarray(loss) for loss in pair.keras.losses))
    kernels = {k: tensors[f"{k}.kernel"].astype(np.float64) for k in "cde"}
    formula = (0.01 * np.abs(kernels["c"]).sum() + 0.02 * (kernels["c"] ** 2).sum()
               + 0.05 * (kernels["d"] ** 2).sum() + 0.003 * np.abs(kernels["e"]).sum())
    print(f"regularization: formula {formula:.8f}, pytorch {torch_penalty:.8f}, keras {keras_penalty:.8f}")
    assert len(pair.keras.losses) == 3
    assert torch_penalty == pytest.approx(formula, rel=1e-6)
    assert keras_penalty == pytest.approx(formula, rel=1e-6)


# --- (i) SGD weight decay enters the gradient (the paper's rule) ---------------------------------------------------

def test_sgd_weight_decay_is_the_papers_coupled_rule_in_pytorch_and_keras() -> None:
    graph = spec_graph("sgd_pair", "[1, 1, 4]", "- {type: flatten, name: f}\n- {type: dense, name: fc, units: 3}",
                       "training:\n  optimizer: {type: sgd, learning_rate: 0.1, momentum: 0.9, weight_decay: 0.01}\n")
    pair = Pair(graph, "sgd_pair.yaml", dtype="float64")
    pair.load(random_weights(graph, seed=11))
    layer = submodule(pair, "fc")
    optimizer = pair.torch_module.make_optimizer(pair.torch)
    keras_optimizer = pair.keras_module.compile_model(pair.keras).optimizer
    kernel, bias = pair.keras.get_layer("fc").kernel, pair.keras.get_layer("fc").bias
    rng = np.random.default_rng(12)
    w, b = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()  # (out, in), as PyTorch
    velocity_w, velocity_b = np.zeros_like(w), np.zeros_like(b)
    for _ in range(3):
        grad_w, grad_b = rng.normal(size=w.shape), rng.normal(size=b.shape)
        layer.weight.grad, layer.bias.grad = torch.from_numpy(grad_w.copy()), torch.from_numpy(grad_b.copy())
        optimizer.step()
        keras_optimizer.apply_gradients([(keras.ops.convert_to_tensor(grad_w.T), kernel),
                                         (keras.ops.convert_to_tensor(grad_b), bias)])
        velocity_w = 0.9 * velocity_w - 0.1 * (grad_w + 0.01 * w)  # the paper: v = mu v - lr (g + wd w); w += v
        velocity_b = 0.9 * velocity_b - 0.1 * (grad_b + 0.01 * b)
        w, b = w + velocity_w, b + velocity_b
    print(f"sgd: pytorch vs paper {relative(w, layer.weight.detach().numpy()):.2e}, keras vs paper "
          f"{relative(w.T, np.asarray(kernel)):.2e}")
    np.testing.assert_allclose(layer.weight.detach().numpy(), w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.bias.detach().numpy(), b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(kernel), w.T, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.asarray(bias), b, rtol=1e-6, atol=1e-9)


# --- (j) optimizer hyperparameters: the spec's values, never a framework's default ---------------------------------

def parameters_of(*tensors):
    """Something with `.parameters()`, as make_optimizer expects of a model."""
    return SimpleNamespace(parameters=lambda: list(tensors))


def adam_module_pair(training: str):
    graph = spec_graph("adam_pair", "[1, 1, 2]", "- {type: flatten, name: f}\n- {type: dense, name: d, units: 2}",
                       training)
    return generated_modules(graph, "adam_pair.yaml")


def test_adam_defaults_are_kerass_in_both() -> None:
    keras_module, torch_module = adam_module_pair("training:\n  optimizer: {type: adam}\n")
    optimizer = torch_module.make_optimizer(parameters_of(torch.nn.Parameter(torch.zeros(2))))
    group = optimizer.param_groups[0]
    assert type(optimizer).__name__ == "KerasAdam"
    assert (group["lr"], group["betas"], group["eps"], optimizer.keras_epsilon) == (0.001, (0.9, 0.999), 1e-7, 1e-7)
    config = keras_module.compile_model(keras_module.build_model()).optimizer.get_config()
    assert (config["learning_rate"], config["beta_1"], config["beta_2"], config["epsilon"]) == pytest.approx(
        (0.001, 0.9, 0.999, 1e-7), rel=1e-6)


def test_keras_adam_steps_match_keras_exactly_in_float64() -> None:
    # Values exact in float32: Keras's float64 Adam casts its Python-float betas through float32
    # (ops.cast(0.999, "float64") == 0.9990000128746033), which alone moves a first step by 6.7e-6 relative.
    keras_module, torch_module = adam_module_pair("training:\n  optimizer: {type: adam, learning_rate: 0.0009765625, "
                                                  "beta_1: 0.875, beta_2: 0.9990234375}\n")
    config = keras_module.compile_model(keras_module.build_model()).optimizer.get_config()
    rng = np.random.default_rng(13)
    start = rng.normal(size=16)
    grads = [rng.normal(size=16) * np.logspace(-8, 0, 16) for _ in range(3)]  # tiny ones: epsilon matters
    variable = keras.Variable(start.copy(), dtype="float64")
    reference = keras.optimizers.Adam.from_config(config)
    ours = torch.nn.Parameter(torch.from_numpy(start.copy()))
    generated = torch_module.make_optimizer(parameters_of(ours))
    plain = torch.nn.Parameter(torch.from_numpy(start.copy()))
    # PyTorch's own Adam adds epsilon after the bias correction
    stock = torch.optim.Adam([plain], lr=0.0009765625, betas=(0.875, 0.9990234375), eps=1e-7)
    for grad in grads:
        reference.apply_gradients([(keras.ops.convert_to_tensor(grad), variable)])
        for parameter, optimizer in ((ours, generated), (plain, stock)):
            parameter.grad = torch.from_numpy(grad.copy())
            optimizer.step()
    keras_update = np.asarray(variable) - start
    ours_error = relative(keras_update, ours.detach().numpy() - start)
    stock_error = relative(keras_update, plain.detach().numpy() - start)
    print(f"adam, 3 float64 steps: KerasAdam vs Keras {ours_error:.2e}, torch.optim.Adam vs Keras {stock_error:.2e}")
    assert ours_error <= 1e-7
    assert stock_error > 1e-3


def test_adadelta_values_are_the_specs_in_both() -> None:
    import importlib

    for name, expected in (("alexnet_mnist", (1.0, 0.95, 1e-7)), (None, (0.001, 0.95, 1e-7))):
        if name:  # the committed modules of seed 003: Keras 2's lr 1.0, written out in the spec
            keras_module = importlib.import_module(f"generated.keras.{name}")
            torch_module = importlib.import_module(f"generated.pytorch.{name}")
        else:  # a spec that gives no values: the spec's documented defaults (Keras 3's), not PyTorch's 1.0/0.9/1e-6
            keras_module, torch_module = adam_module_pair("training:\n  optimizer: {type: adadelta}\n")
        group = torch_module.make_optimizer(parameters_of(torch.nn.Parameter(torch.zeros(2)))).param_groups[0]
        assert (group["lr"], group["rho"], group["eps"]) == expected, name
        config = keras_module.compile_model(keras_module.build_model()).optimizer.get_config()
        assert (config["learning_rate"], config["rho"], config["epsilon"]) == pytest.approx(expected, rel=1e-6)


def test_adadelta_steps_agree_in_float64() -> None:
    keras_module, torch_module = adam_module_pair(
        "training:\n  optimizer: {type: adadelta, learning_rate: 1.0, rho: 0.95, epsilon: 1.0e-7}\n")
    config = keras_module.compile_model(keras_module.build_model()).optimizer.get_config()
    rng = np.random.default_rng(14)
    start = rng.normal(size=16)
    variable = keras.Variable(start.copy(), dtype="float64")
    reference = keras.optimizers.Adadelta.from_config(config)
    ours = torch.nn.Parameter(torch.from_numpy(start.copy()))
    optimizer = torch_module.make_optimizer(parameters_of(ours))
    for _ in range(3):
        grad = rng.normal(size=16) * np.logspace(-6, 0, 16)
        reference.apply_gradients([(keras.ops.convert_to_tensor(grad), variable)])
        ours.grad = torch.from_numpy(grad.copy())
        optimizer.step()
    error = relative(np.asarray(variable) - start, ours.detach().numpy() - start)
    print(f"adadelta, 3 float64 steps: pytorch vs keras {error:.2e}")
    assert error <= 1e-7


# --- bugs found on the way -------------------------------------------------------------------------------------

def test_check_floatx_sets_the_dtype_policy() -> None:
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")  # as left by any float32 model built earlier in the process
    try:
        with check.floatx("float64"):
            layer = keras.layers.Dense(2)
            layer.build((None, 3))
    finally:
        keras.config.set_dtype_policy(policy)
    assert layer.kernel.dtype == "float64"


def test_check_floatx_keeps_float64_off_tensorflow() -> None:
    """Keras promotes float64 to float32 in ops like tanh and sqrt off TensorFlow; the float64 reference must not."""
    import os
    import subprocess
    import sys

    pytest.importorskip("jax")
    code = ("import numpy as np, keras\nfrom alexgen.check import floatx\nx = np.linspace(-2, 2, 5)\n"
            "with floatx('float64'):\n    inside = keras.ops.convert_to_numpy(keras.ops.tanh(x))\n"
            "after = keras.ops.convert_to_numpy(keras.ops.tanh(x))\n"
            "print(inside.dtype, float(abs(inside - np.tanh(x)).max()), after.dtype)")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1"}  # as `alexgen check --keras-backend jax`
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    dtype, error, after = out.split()[-3:]
    assert dtype == "float64" and float(error) < 1e-15 and after == "float32"  # Keras's own rule again


def test_check_handles_a_one_layer_network() -> None:
    graph = spec_graph("one_layer", "[5, 5, 2]", "- {type: conv2d, name: c, filters: 2, kernel_size: 3}")
    assert all(row.passed for row in run_check(graph, "one_layer.yaml"))
