"""One table, every layer type: a spec snippet and the exact Keras and PyTorch lines it becomes.

Each row is (id, layers, keras lines, pytorch lines). The layers are YAML flow mappings placed under `layers:`
of a tiny network on a 16x16x3 input; both targets are rendered (ruff-formatted, as `alexgen render` writes
them) and the expected lines must appear in that order. Consecutive expected lines must be consecutive code
lines of the module (comment lines between them are skipped); "..." allows anything in between.

Lines are compared after undoing ruff's wrapping (the module re-formatted with a 320-column limit, magic
trailing commas ignored) and ignoring a trailing comma, so a constructor that ruff splits over several lines is
still written here as the one line it is. Everything else is exact: argument order, literals, quotes and the
`# -> CxHxW` shape comments.

Every row was checked by hand against the spec semantics before it was written down (TensorFlow's 'same'
padding puts the odd extra cell at the bottom/right; ZeroPad2d takes (left, right, top, bottom); Keras's
initializers, BatchNorm momentum and LRN alpha conversions as in /work/shared/PITFALLS.md).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from functools import cache

import pytest

from alexgen.render import environment, render_module, render_support
from alexgen.spec import LAYER_MODELS
from alexgen.validate import graph_from_text

HEADER = "alexgen: 1\nname: probe\ninput_shape: [16, 16, 3]\nlayers:\n"
GAP = "..."

# (layer-type id, layers of a tiny network on 16x16x3, Keras lines, PyTorch lines)
TABLE: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    # --- conv2d ------------------------------------------------------------------------------------------------
    ("conv2d-valid",
     "- {type: conv2d, name: c, filters: 8, kernel_size: 3}",
     ('layers.Conv2D(8, 3, name="c"),',),
     ('("c", nn.Conv2d(3, 8, kernel_size=3)),  # -> 8x14x14', GAP,
      "nn.init.xavier_uniform_(self.features.c.weight)",  # Keras's glorot_uniform / zeros, not PyTorch's
      "nn.init.zeros_(self.features.c.bias)")),
    ("conv2d-same-stride1-odd-kernel",  # symmetric: PyTorch's own padding= is exact
     "- {type: conv2d, name: c, filters: 8, kernel_size: 5, padding: same, activation: relu}",
     ('layers.Conv2D(8, 5, padding="same", activation="relu", name="c"),',),
     ('("c", nn.Conv2d(3, 8, kernel_size=5, padding=2)),',
      '("c_relu", nn.ReLU(inplace=True)),  # -> 8x16x16')),
    ("conv2d-same-stride1-even-kernel",  # total 3: 1 before, 2 after
     "- {type: conv2d, name: c, filters: 8, kernel_size: 4, padding: same}",
     ('layers.Conv2D(8, 4, padding="same", name="c"),',),
     ('("c_pad", nn.ZeroPad2d((1, 2, 1, 2))),',
      '("c", nn.Conv2d(3, 8, kernel_size=4)),  # -> 8x16x16')),
    ("conv2d-same-stride2",  # out 8, total (8-1)*2+3-16 = 1: 0 before, 1 after
     "- {type: conv2d, name: c, filters: 8, kernel_size: 3, strides: 2, padding: same}",
     ('layers.Conv2D(8, 3, strides=2, padding="same", name="c"),',),
     ('("c_pad", nn.ZeroPad2d((0, 1, 0, 1))),',
      '("c", nn.Conv2d(3, 8, kernel_size=3, stride=2)),  # -> 8x8x8')),
    ("conv2d-same-stride2-even-kernel-symmetric",  # total (8-1)*2+4-16 = 2: symmetric, no pad module
     "- {type: conv2d, name: c, filters: 8, kernel_size: 4, strides: 2, padding: same}",
     ('layers.Conv2D(8, 4, strides=2, padding="same", name="c"),',),
     ('("c", nn.Conv2d(3, 8, kernel_size=4, stride=2, padding=1)),  # -> 8x8x8',)),
    ("conv2d-explicit-asymmetric",  # [[top, bottom], [left, right]]; F.pad order is (left, right, top, bottom)
     "- {type: conv2d, name: c, filters: 8, kernel_size: 3, padding: [[1, 0], [2, 1]]}",
     ('layers.ZeroPadding2D(padding=((1, 0), (2, 1)), name="c_pad"),',
      'layers.Conv2D(8, 3, name="c"),'),
     ('("c_pad", nn.ZeroPad2d((2, 1, 1, 0))),',
      '("c", nn.Conv2d(3, 8, kernel_size=3)),  # -> 8x15x17')),
    ("conv2d-explicit-pair",  # [h, w]: symmetric per axis
     "- {type: conv2d, name: c, filters: 4, kernel_size: 3, padding: [1, 2]}",
     ('layers.ZeroPadding2D(padding=((1, 1), (2, 2)), name="c_pad"),',
      'layers.Conv2D(4, 3, name="c"),'),
     ('("c", nn.Conv2d(3, 4, kernel_size=3, padding=(1, 2))),  # -> 4x16x18',)),
    ("conv2d-groups",
     "- {type: conv2d, name: c, filters: 6, kernel_size: 3, groups: 3, padding: 1}",
     ('layers.ZeroPadding2D(padding=1, name="c_pad"),',
      'layers.Conv2D(6, 3, groups=3, name="c"),'),
     ('("c", nn.Conv2d(3, 6, kernel_size=3, padding=1, groups=3)),  # -> 6x16x16',)),
    ("conv2d-dilation-no-bias",  # effective kernel 5: 16 - 4 = 12
     "- {type: conv2d, name: c, filters: 4, kernel_size: 3, dilation_rate: 2, use_bias: false}",
     ('layers.Conv2D(4, 3, dilation_rate=2, use_bias=False, name="c"),',),
     ('("c", nn.Conv2d(3, 4, kernel_size=3, dilation=2, bias=False)),  # -> 4x12x12', GAP,
      "nn.init.xavier_uniform_(self.features.c.weight)",  # and no bias initialization after it
      "def forward(self, x: torch.Tensor) -> torch.Tensor:")),
    ("conv2d-rectangular-kernel-strides",
     "- {type: conv2d, name: c, filters: 4, kernel_size: [5, 3], strides: [2, 1]}",
     ('layers.Conv2D(4, (5, 3), strides=(2, 1), name="c"),',),
     ('("c", nn.Conv2d(3, 4, kernel_size=(5, 3), stride=(2, 1))),  # -> 4x6x14',)),
    ("conv2d-he-normal-ones",  # truncated at 2 std; std = sqrt(2 / fan_in) / 0.8796..., fan_in = 3 * 3 * 3
     "- {type: conv2d, name: c, filters: 4, kernel_size: 3, kernel_initializer: he_normal, "
     "bias_initializer: ones}",
     ('layers.Conv2D(4, 3, kernel_initializer="he_normal", bias_initializer="ones", name="c"),',),
     ("nn.init.trunc_normal_(self.features.c.weight, std=0.3094106266248576, a=-0.6188212532497152, "
      "b=0.6188212532497152)",
      "nn.init.ones_(self.features.c.bias)")),
    ("conv2d-random-normal-constant",
     "- {type: conv2d, name: c, filters: 4, kernel_size: 3, kernel_initializer: {type: random_normal, "
     "stddev: 0.01}, bias_initializer: {type: constant, value: 0.5}}",
     ('layers.Conv2D(4, 3, kernel_initializer=keras.initializers.RandomNormal(mean=0.0, stddev=0.01), '
      'bias_initializer=keras.initializers.Constant(value=0.5), name="c"),',),
     ("nn.init.normal_(self.features.c.weight, mean=0.0, std=0.01)",
      "nn.init.constant_(self.features.c.bias, 0.5)")),
    ("conv2d-truncated-normal",
     "- {type: conv2d, name: c, filters: 4, kernel_size: 3, kernel_initializer: {type: truncated_normal, "
     "stddev: 0.02}}",
     ('layers.Conv2D(4, 3, kernel_initializer=keras.initializers.TruncatedNormal(mean=0.0, stddev=0.02), '
      'name="c"),',),
     ("nn.init.trunc_normal_(self.features.c.weight, mean=0.0, std=0.02, a=-0.04, b=0.04)",
      "nn.init.zeros_(self.features.c.bias)")),
    # --- depthwise_conv2d --------------------------------------------------------------------------------------
    ("depthwise_conv2d",  # PyTorch: groups = channels, channels x multiplier outputs; glorot with Keras's fans
     "- {type: depthwise_conv2d, name: d, kernel_size: 3, depth_multiplier: 2}",
     ('layers.DepthwiseConv2D(3, depth_multiplier=2, name="d"),',),
     ('("d", nn.Conv2d(3, 6, kernel_size=3, groups=3)),  # -> 6x14x14', GAP,
      "nn.init.uniform_(self.features.d.weight, a=-0.3651483716701107, b=0.3651483716701107)",  # sqrt(6 / (27 + 18))
      "nn.init.zeros_(self.features.d.bias)")),
    ("depthwise_conv2d-same-stride2-no-bias-l2",  # out 8: total 1, after; kernel_* keys are Keras's depthwise_*
     "- {type: depthwise_conv2d, name: d, kernel_size: 3, strides: 2, padding: same, use_bias: false, "
     "activation: relu, kernel_initializer: he_uniform, kernel_regularizer: {l2: 0.001}}",
     ('layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=1, activation="relu", use_bias=False, '
      'depthwise_initializer="he_uniform", depthwise_regularizer=keras.regularizers.L2(0.001), name="d"),',),
     ('("d_pad", nn.ZeroPad2d((0, 1, 0, 1))),',
      '("d", nn.Conv2d(3, 3, kernel_size=3, stride=2, groups=3, bias=False)),',
      '("d_relu", nn.ReLU(inplace=True)),  # -> 3x8x8', GAP,
      "nn.init.uniform_(self.features.d.weight, a=-0.4714045207910317, b=0.4714045207910317)", GAP,  # sqrt(6 / 27)
      "return 0.001 * model.features.d.weight.square().sum()")),
    # --- dense -------------------------------------------------------------------------------------------------
    ("dense",  # the flatten at the features/classifier boundary is torch.flatten in forward
     "- {type: flatten, name: f}\n- {type: dense, name: d, units: 10}",
     ('layers.Flatten(name="f"),', 'layers.Dense(10, name="d"),'),
     ('("d", nn.Linear(768, 10)),  # -> 10', GAP,
      "nn.init.xavier_uniform_(self.classifier.d.weight)",
      "nn.init.zeros_(self.classifier.d.bias)", GAP,
      "x = torch.flatten(x, 1)",
      "x = self.classifier(x)")),
    ("dense-l2-regularizer",  # Keras adds it to the loss; PyTorch's regularization_loss(model) the same
     "- {type: flatten, name: f}\n- {type: dense, name: d, units: 10, kernel_regularizer: {l2: 0.0005}}",
     ('layers.Dense(10, kernel_regularizer=keras.regularizers.L2(0.0005), name="d"),',),
     ('("d", nn.Linear(768, 10)),  # -> 10', GAP,
      "def regularization_loss(model: Probe) -> torch.Tensor:", GAP,
      "return 0.0005 * model.classifier.d.weight.square().sum()")),
    ("dense-l1l2-softmax-random-normal",
     "- {type: flatten, name: f}\n- {type: dense, name: d, units: 10, activation: softmax, kernel_regularizer: "
     "{l1: 0.001, l2: 0.0005}, kernel_initializer: {type: random_normal, stddev: 0.01}}",
     ('layers.Dense(10, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(mean=0.0, '
      'stddev=0.01), kernel_regularizer=keras.regularizers.L1L2(l1=0.001, l2=0.0005), name="d"),',),
     ('("d", nn.Linear(768, 10)),',
      '("d_softmax", nn.Softmax(dim=1)),  # -> 10', GAP,
      "nn.init.normal_(self.classifier.d.weight, mean=0.0, std=0.01)", GAP,
      "return 0.001 * model.classifier.d.weight.abs().sum() + 0.0005 * model.classifier.d.weight.square().sum()")),
    ("dense-glorot-normal-random-uniform",  # std = sqrt(2 / (768 + 10)) / 0.8796..., cut at 2 std
     "- {type: flatten, name: f}\n- {type: dense, name: d, units: 10, kernel_initializer: glorot_normal, "
     "bias_initializer: {type: random_uniform, minval: -0.1, maxval: 0.2}}",
     ('layers.Dense(10, kernel_initializer="glorot_normal", '
      'bias_initializer=keras.initializers.RandomUniform(minval=-0.1, maxval=0.2), name="d"),',),
     ("nn.init.trunc_normal_(self.classifier.d.weight, std=0.05764044286375791, a=-0.11528088572751582, "
      "b=0.11528088572751582)",
      "nn.init.uniform_(self.classifier.d.bias, a=-0.1, b=0.2)")),
    ("dense-he-uniform-no-bias",  # kaiming_uniform_ with relu gain: bound sqrt(6 / fan_in), as Keras's
     "- {type: flatten, name: f}\n- {type: dense, name: d, units: 10, kernel_initializer: he_uniform, "
     "use_bias: false}",
     ('layers.Dense(10, use_bias=False, kernel_initializer="he_uniform", name="d"),',),
     ('("d", nn.Linear(768, 10, bias=False)),  # -> 10', GAP,
      'nn.init.kaiming_uniform_(self.classifier.d.weight, nonlinearity="relu")')),
    # --- pooling -----------------------------------------------------------------------------------------------
    ("max_pool2d-valid",
     "- {type: max_pool2d, name: p}",
     ('layers.MaxPooling2D(pool_size=2, name="p"),',),
     ('("p", nn.MaxPool2d(kernel_size=2, stride=2)),  # -> 3x8x8',)),
    ("max_pool2d-same-symmetric",  # PyTorch's implicit padding of a max pool is -inf
     "- {type: max_pool2d, name: p, pool_size: 3, strides: 1, padding: same}",
     ('layers.MaxPooling2D(pool_size=3, strides=1, padding="same", name="p"),',),
     ('("p", nn.MaxPool2d(kernel_size=3, stride=1, padding=1)),  # -> 3x16x16',)),
    ("max_pool2d-same-asymmetric",  # pads with -inf, never zeros
     "- {type: max_pool2d, name: p, pool_size: 3, strides: 2, padding: same}",
     ('layers.MaxPooling2D(pool_size=3, strides=2, padding="same", name="p"),',),
     ('("p_pad", nn.ConstantPad2d((0, 1, 0, 1), value=float("-inf"))),',
      '("p", nn.MaxPool2d(kernel_size=3, stride=2)),  # -> 3x8x8')),
    ("avg_pool2d-valid",
     "- {type: avg_pool2d, name: p}",
     ('layers.AveragePooling2D(pool_size=2, name="p"),',),
     ('("p", nn.AvgPool2d(kernel_size=2, stride=2)),  # -> 3x8x8',)),
    ("avg_pool2d-same-symmetric",  # TensorFlow divides by the real cells only
     "- {type: avg_pool2d, name: p, pool_size: 3, strides: 1, padding: same}",
     ('layers.AveragePooling2D(pool_size=3, strides=1, padding="same", name="p"),',),
     ('("p", nn.AvgPool2d(kernel_size=3, stride=1, padding=1, count_include_pad=False)),',)),
    ("avg_pool2d-same-asymmetric",  # a generated helper: pad, sum, divide by the count of real cells
     "- {type: avg_pool2d, name: p, pool_size: 3, strides: 2, padding: same}",
     ('layers.AveragePooling2D(pool_size=3, strides=2, padding="same", name="p"),',),
     ("class AvgPool2dSame(nn.Module):", GAP,
      '("p", AvgPool2dSame(3, 2, (0, 1, 0, 1))),  # -> 3x8x8')),
    ("adaptive_avg_pool2d",
     "- {type: adaptive_avg_pool2d, name: p, output_size: [4, 2]}",
     ('layers.AdaptiveAveragePooling2D((4, 2), name="p"),',),
     ('("p", nn.AdaptiveAvgPool2d((4, 2))),  # -> 3x4x2',)),
    ("global_avg_pool2d",
     "- {type: global_avg_pool2d, name: g}",
     ('layers.GlobalAveragePooling2D(name="g"),',),
     ('("g", nn.AdaptiveAvgPool2d(1)),', '("g_flatten", nn.Flatten(1)),  # -> 3')),
    # --- padding, normalization, regularization, shape ---------------------------------------------------------
    ("zero_padding2d",
     "- {type: zero_padding2d, name: z, padding: [[1, 2], [0, 3]]}",
     ('layers.ZeroPadding2D(padding=((1, 2), (0, 3)), name="z"),',),
     ('("z", nn.ZeroPad2d((0, 3, 1, 2))),  # -> 3x19x19',)),
    ("zero_padding2d-default",
     "- {type: zero_padding2d, name: z}",
     ('layers.ZeroPadding2D(padding=1, name="z"),',),
     ('("z", nn.ZeroPad2d(1)),  # -> 3x18x18',)),
    ("batch_norm",  # Keras's epsilon 1e-3 passed explicitly; momentum 1 - 0.99
     "- {type: batch_norm, name: bn}",
     ('layers.BatchNormalization(epsilon=0.001, momentum=0.99, name="bn"),',),
     ("class BatchNorm2d(nn.BatchNorm2d):", GAP,
      '("bn", BatchNorm2d(3, eps=0.001, momentum=0.01)),  # -> 3x16x16')),
    ("batch_norm-custom",
     "- {type: batch_norm, name: bn, epsilon: 1.0e-5, momentum: 0.9}",
     ('layers.BatchNormalization(epsilon=1e-05, momentum=0.9, name="bn"),',),
     ('("bn", BatchNorm2d(3, eps=1e-05, momentum=0.1)),  # -> 3x16x16',)),
    ("batch_norm-1d",
     "- {type: flatten, name: f}\n- {type: batch_norm, name: bn, momentum: 0.95}",
     ('layers.BatchNormalization(epsilon=0.001, momentum=0.95, name="bn"),',),
     ("class BatchNorm1d(nn.BatchNorm1d):", GAP,
      '("bn", BatchNorm1d(768, eps=0.001, momentum=0.05)),  # -> 768')),
    ("lrn",  # PyTorch divides alpha by size: alpha * size = 0.0005
     "- {type: lrn, name: n}",
     ('LocalResponseNormalization(size=5, alpha=0.0001, beta=0.75, bias=2.0, name="n"),',),
     ("class LocalResponseNorm(nn.LocalResponseNorm):", GAP,
      '("n", LocalResponseNorm(5, alpha=0.0005, beta=0.75, k=2.0)),  # -> 3x16x16')),
    ("lrn-custom",
     "- {type: lrn, name: n, size: 3, alpha: 0.001, beta: 0.5, bias: 1.0}",
     ('LocalResponseNormalization(size=3, alpha=0.001, beta=0.5, bias=1.0, name="n"),',),
     ('("n", LocalResponseNorm(3, alpha=0.003, beta=0.5, k=1.0)),  # -> 3x16x16',)),
    ("dropout",
     "- {type: dropout, name: d, rate: 0.25}",
     ('layers.Dropout(rate=0.25, name="d"),',),
     ('("d", nn.Dropout(0.25)),  # -> 3x16x16',)),
    ("flatten",  # PyTorch keeps its C, H, W order; converted weights permute the next dense layer
     "- {type: flatten, name: f}",
     ('layers.Flatten(name="f"),',),
     ("def forward(self, x: torch.Tensor) -> torch.Tensor:", "x = torch.flatten(x, 1)", "return x")),
    ("activation",
     "- {type: activation, name: a, activation: tanh}",
     ('layers.Activation("tanh", name="a"),',),
     ('("a", nn.Tanh()),  # -> 3x16x16',)),
    ("activation-relu-on-the-input",  # never in place on the caller's tensor
     "- {type: activation, name: a, activation: relu}",
     ('layers.Activation("relu", name="a"),',),
     ('("a", nn.ReLU()),  # -> 3x16x16',)),
    ("activation-relu-after-conv",
     "- {type: conv2d, name: c, filters: 8, kernel_size: 3}\n- {type: activation, name: a, activation: relu}",
     ('layers.Conv2D(8, 3, name="c"),', 'layers.Activation("relu", name="a"),'),
     ('("c", nn.Conv2d(3, 8, kernel_size=3)),  # -> 8x14x14', '("a", nn.ReLU(inplace=True)),  # -> 8x14x14')),
    ("leaky_relu",  # the slope always written out: Keras's default is 0.3, PyTorch's 0.01
     "- {type: leaky_relu, name: a, negative_slope: 0.1}",
     ('layers.LeakyReLU(negative_slope=0.1, name="a"),',),
     ('("a", nn.LeakyReLU(negative_slope=0.1)),  # -> 3x16x16',)),
    ("elu",
     "- {type: elu, name: a, alpha: 0.5}",
     ('layers.ELU(alpha=0.5, name="a"),',),
     ('("a", nn.ELU(alpha=0.5)),  # -> 3x16x16',)),
    ("gelu",  # Keras has no GELU layer: the module defines one; its approximate is a boolean
     "- {type: gelu, name: a}\n- {type: gelu, name: b, approximate: tanh}",
     ("class GELU(layers.Layer):", GAP, 'GELU(approximate=False, name="a"),', 'GELU(approximate=True, name="b"),'),
     ('("a", nn.GELU(approximate="none")),  # -> 3x16x16', '("b", nn.GELU(approximate="tanh")),  # -> 3x16x16')),
    # --- graphs: the functional API and an explicit forward -----------------------------------------------------
    ("concatenate",
     "- {type: conv2d, name: a, filters: 4, kernel_size: 1, inputs: [input]}\n"
     "- {type: max_pool2d, name: b, pool_size: 1, inputs: [input]}\n"
     "- {type: concatenate, name: cat, inputs: [a, b]}\n"
     "- {type: global_avg_pool2d, name: gap}\n"
     "- {type: activation, name: act, activation: softmax}",
     ('inputs = keras.Input(shape=INPUT_SHAPE, name="input")',
      'a = layers.Conv2D(4, 1, name="a")(inputs)',
      'b = layers.MaxPooling2D(pool_size=1, name="b")(inputs)',
      'cat = layers.Concatenate(name="cat")([a, b])',
      'gap = layers.GlobalAveragePooling2D(name="gap")(cat)',
      'act = layers.Activation("softmax", name="act")(gap)',
      'model = keras.Model(inputs, act, name="probe")'),
     ("self.a = nn.Conv2d(3, 4, kernel_size=1)",
      "self.b = nn.MaxPool2d(kernel_size=1, stride=1)", GAP,
      "a = self.a(x)  # -> 4x16x16",
      "b = self.b(x)  # -> 3x16x16",
      "cat = torch.cat([a, b], dim=1)  # -> 7x16x16",  # Keras's channel axis -1 is NCHW dim 1
      "gap = cat.mean(dim=(2, 3))  # -> 7",
      "act = F.softmax(gap, dim=1)  # -> 7",
      "return act")),
    ("add",  # a residual sum: Keras's Add on the list, PyTorch's `+` in forward
     "- {type: conv2d, name: a, filters: 3, kernel_size: 3, padding: same, activation: relu}\n"
     "- {type: conv2d, name: b, filters: 3, kernel_size: 1}\n"
     "- {type: add, name: s, inputs: [input, a, b]}",
     ('a = layers.Conv2D(3, 3, padding="same", activation="relu", name="a")(inputs)',
      'b = layers.Conv2D(3, 1, name="b")(a)',
      's = layers.Add(name="s")([inputs, a, b])',
      'model = keras.Model(inputs, s, name="probe")'),
     ("a = F.relu(self.a(x))  # -> 3x16x16",
      "b = self.b(a)  # -> 3x16x16",
      "s = x + a + b  # -> 3x16x16",
      "return s")),
    ("concatenate-flat-axis",
     "- {type: conv2d, name: a, filters: 4, kernel_size: 3, activation: relu, inputs: [input]}\n"
     "- {type: flatten, name: fa}\n"
     "- {type: flatten, name: fb, inputs: [input]}\n"
     "- {type: concatenate, name: cat, inputs: [fa, fb], axis: 1}\n"
     "- {type: dense, name: out, units: 3, activation: sigmoid}",
     ('fa = layers.Flatten(name="fa")(a)',
      'fb = layers.Flatten(name="fb")(inputs)',
      'cat = layers.Concatenate(axis=1, name="cat")([fa, fb])',
      'out = layers.Dense(3, activation="sigmoid", name="out")(cat)'),
     ("a = F.relu(self.a(x))  # -> 4x14x14",
      "fa = torch.flatten(a, 1)  # -> 784",
      "fb = torch.flatten(x, 1)  # -> 768",
      "cat = torch.cat([fa, fb], dim=1)  # -> 1552",
      "out = torch.sigmoid(self.out(cat))  # -> 3")),
]


def spec_text(layers: str) -> str:
    """The tiny network of a row."""
    return HEADER + textwrap.indent(textwrap.dedent(layers).strip("\n"), "  ") + "\n"


def unwrap(source: str) -> str:
    """The source with ruff's line wrapping undone: re-formatted at 320 columns, magic trailing commas ignored."""
    command = [sys.executable, "-m", "ruff", "format", "--isolated", "--line-length=320", "--config",
               "format.skip-magic-trailing-comma = true", "--stdin-filename=probe.py", "-"]
    result = subprocess.run(command, input=source, capture_output=True, text=True, check=True)
    return result.stdout


def key(line: str) -> str:
    """A line without indentation and without a trailing comma before its (optional) comment."""
    code, sep, comment = line.strip().partition("  # ")
    return code.rstrip(",") + sep + comment


def code_lines(source: str) -> list[str]:
    """The keys of every non-blank, non-comment line."""
    return [key(line) for line in unwrap(source).splitlines() if line.strip() and not line.strip().startswith("#")]


def find_in_order(lines: list[str], expected: tuple[str, ...]) -> str | None:
    """None when the expected segments occur in order (each one contiguous), else what went wrong."""
    segments: list[list[str]] = [[]]
    for line in expected:
        if line == GAP:
            segments.append([])
        else:
            segments[-1].append(key(line))
    start = 0
    for segment in segments:
        width = len(segment)
        found = next((i for i in range(start, len(lines) - width + 1) if lines[i:i + width] == segment), None)
        if found is None:
            return f"not found (in order, contiguous) after line {start}: {segment}"
        start = found + width
    return None


@cache
def rendered(layers: str, target: str) -> list[str]:
    """The code lines of a row's module for one target, after those of its folder's support module (which defines
    the helper classes the module imports)."""
    graph = graph_from_text(spec_text(layers), "probe.yaml")
    support = code_lines(render_support(target, environment()))
    return support + code_lines(render_module(graph, target, environment(), "probe.yaml"))


@pytest.mark.parametrize(("layers", "keras_lines", "torch_lines"), [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])
def test_layer_renders_these_lines(layers: str, keras_lines: tuple[str, ...], torch_lines: tuple[str, ...]) -> None:
    for target, expected in (("keras", keras_lines), ("pytorch", torch_lines)):
        lines = rendered(layers, target)
        problem = find_in_order(lines, expected)
        assert problem is None, f"{target}: {problem}\n--- generated code lines:\n" + "\n".join(lines)


def test_the_table_covers_every_layer_type() -> None:
    covered = {row[0].split("-")[0] for row in TABLE}
    assert covered == set(LAYER_MODELS), sorted(set(LAYER_MODELS) ^ covered)
    assert len({row[0] for row in TABLE}) == len(TABLE), "row ids must be unique"


def test_same_padding_never_reaches_pytorch() -> None:
    """PyTorch refuses padding='same' with stride > 1; every 'same' row must have become explicit numbers."""
    for row_id, layers, _, _ in TABLE:
        if "padding: same" in layers:
            assert not any('padding="same"' in line for line in rendered(layers, "pytorch")), row_id


def test_matching_is_strict() -> None:
    """The comparison itself: order, contiguity and exact text all count."""
    lines = ["a = 1", "b = 2", "c = 3"]
    assert find_in_order(lines, ("a = 1", "b = 2")) is None
    assert find_in_order(lines, ("a = 1", GAP, "c = 3")) is None
    assert find_in_order(lines, ("a = 1", "c = 3")) is not None  # not contiguous
    assert find_in_order(lines, ("b = 2", GAP, "a = 1")) is not None  # wrong order
    assert find_in_order(lines, ("b = 3",)) is not None
    assert key('    ("c", nn.Conv2d(3, 8, kernel_size=3)),  # -> 8x14x14') == \
        '("c", nn.Conv2d(3, 8, kernel_size=3))  # -> 8x14x14'
    wrapped = 'x = [\n    f(\n        1,\n        2,\n    ),  # -> 3\n]\n'
    assert code_lines(wrapped) == ["x = [", "f(1, 2)  # -> 3", "]"]
