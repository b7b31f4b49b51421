"""The analyzer against real Keras 3: every spec's seed model, built as the notebook builds it.

Each builder below is the seed notebook's own model code in Keras 3 spelling (`keras.Input` instead of
`input_shape=`, `keras.layers` instead of `tensorflow.keras.layers`); nothing else is changed. The only
additions are layer names in seed 001's functional model (so its layers can be matched to the spec, since
Keras lists a functional model's layers in graph order, not in the order of the code) and, for the paper, a
weight-free LRN layer, since Keras has none. Models are built, never trained.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import SPEC_DIR, SPEC_NAMES

from alexgen.graph import Graph, Node
from alexgen.validate import load_graph

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.keras

from keras import layers as kl  # noqa: E402
from keras.regularizers import l2  # noqa: E402

KERAS_TYPES = {
    "Conv2D": "conv2d",
    "Dense": "dense",
    "MaxPooling2D": "max_pool2d",
    "AveragePooling2D": "avg_pool2d",
    "ZeroPadding2D": "zero_padding2d",
    "BatchNormalization": "batch_norm",
    "Dropout": "dropout",
    "Flatten": "flatten",
    "Activation": "activation",
    "Concatenate": "concatenate",
    "LocalResponseNormalization": "lrn",
}


# --- seed 000 (Italian notebook): alexnet_1 and alexnet_2 --------------------------------------------


def seed_000_alexnet_1() -> keras.Model:
    """Seed 000's `alexnet_1`."""
    return keras.Sequential([
        kl.InputLayer(shape=(227, 227, 3)),
        kl.Conv2D(96, kernel_size=(11, 11), strides=(4, 4), activation="relu"),
        kl.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        kl.Conv2D(256, kernel_size=(5, 5), strides=(1, 1), padding="same", activation="relu"),
        kl.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        kl.Conv2D(384, kernel_size=(3, 3), strides=(1, 1), padding="same", activation="relu"),
        kl.Conv2D(384, kernel_size=(3, 3), strides=(1, 1), padding="same", activation="relu"),
        kl.Conv2D(256, kernel_size=(3, 3), strides=(1, 1), padding="same", activation="relu"),
        kl.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        kl.Flatten(),
        kl.Dense(4096, activation="relu"),
        kl.Dense(4096, activation="relu"),
        kl.Dense(1000, activation="softmax"),
    ])


def seed_000_alexnet_2() -> keras.Model:
    """Seed 000's `alexnet_2`: batch norm after conv1/conv2, N(0, 0.01) kernels, zeros/ones biases."""
    w_init = keras.initializers.RandomNormal(stddev=0.01)
    return keras.Sequential([
        kl.InputLayer(shape=(227, 227, 3)),
        kl.Conv2D(96, kernel_size=(11, 11), strides=(4, 4), kernel_initializer=w_init, bias_initializer="zeros",
                  activation="relu"),
        kl.BatchNormalization(),
        kl.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        kl.Conv2D(256, kernel_size=(5, 5), strides=(1, 1), padding="same", kernel_initializer=w_init,
                  bias_initializer="ones", activation="relu"),
        kl.BatchNormalization(),
        kl.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        kl.Conv2D(384, kernel_size=(3, 3), strides=(1, 1), padding="same", kernel_initializer=w_init,
                  bias_initializer="zeros", activation="relu"),
        kl.Conv2D(384, kernel_size=(3, 3), strides=(1, 1), padding="same", kernel_initializer=w_init,
                  bias_initializer="ones", activation="relu"),
        kl.Conv2D(256, kernel_size=(3, 3), strides=(1, 1), padding="same", kernel_initializer=w_init,
                  bias_initializer="ones", activation="relu"),
        kl.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        kl.Flatten(),
        kl.Dense(4096, kernel_initializer=w_init, bias_initializer="ones", activation="relu"),
        kl.Dropout(0.5),
        kl.Dense(4096, kernel_initializer=w_init, bias_initializer="ones", activation="relu"),
        kl.Dropout(0.5),
        kl.Dense(1000, kernel_initializer=w_init, bias_initializer="zeros", activation="softmax"),
    ])


# --- seed 001: the functional two-tower network, as written ----------------------------------------


def seed_001_two_tower() -> keras.Model:
    """Seed 001's two-tower model (tower 2's first conv has no activation, as in the notebook)."""
    inputs = keras.Input(shape=(227, 227, 3))

    x1 = kl.Conv2D(filters=48, kernel_size=(11, 11), strides=(4, 4), activation="relu", name="t1_conv1")(inputs)
    x1 = kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name="t1_pool1")(x1)
    x1 = kl.Conv2D(filters=128, kernel_size=(5, 5), padding="same", activation="relu", name="t1_conv2")(x1)
    x1 = kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name="t1_pool2")(x1)

    x2 = kl.Conv2D(filters=48, kernel_size=(11, 11), strides=(4, 4), name="t2_conv1")(inputs)
    x2 = kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name="t2_pool1")(x2)
    x2 = kl.Conv2D(filters=128, kernel_size=(5, 5), padding="same", activation="relu", name="t2_conv2")(x2)
    x2 = kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name="t2_pool2")(x2)

    x = kl.Concatenate(axis=-1, name="merge2")([x1, x2])

    x1 = kl.Conv2D(filters=192, kernel_size=(3, 3), padding="same", activation="relu", name="t1_conv3")(x)
    x1 = kl.Conv2D(filters=192, kernel_size=(3, 3), padding="same", activation="relu", name="t1_conv4")(x1)
    x1 = kl.Conv2D(filters=128, kernel_size=(3, 3), padding="same", activation="relu", name="t1_conv5")(x1)
    x1 = kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name="t1_pool5")(x1)
    x1 = kl.Flatten(name="t1_flatten")(x1)

    x2 = kl.Conv2D(filters=192, kernel_size=(3, 3), padding="same", activation="relu", name="t2_conv3")(x)
    x2 = kl.Conv2D(filters=192, kernel_size=(3, 3), padding="same", activation="relu", name="t2_conv4")(x2)
    x2 = kl.Conv2D(filters=128, kernel_size=(3, 3), padding="same", activation="relu", name="t2_conv5")(x2)
    x2 = kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name="t2_pool5")(x2)
    x2 = kl.Flatten(name="t2_flatten")(x2)

    x = kl.Concatenate(axis=-1, name="merge5")([x1, x2])

    x1 = kl.Dense(2048, activation="relu", name="t1_fc6")(x)
    x2 = kl.Dense(2048, activation="relu", name="t2_fc6")(x)
    x = kl.Concatenate(axis=-1, name="merge6")([x1, x2])
    x = kl.Dropout(rate=0.5, name="drop6")(x)

    x1 = kl.Dense(2048, activation="relu", name="t1_fc7")(x)
    x2 = kl.Dense(2048, activation="relu", name="t2_fc7")(x)
    x = kl.Concatenate(axis=-1, name="merge7")([x1, x2])
    x = kl.Dropout(rate=0.5, name="drop7")(x)

    x = kl.Dense(1000, activation="softmax", name="predictions")(x)

    return keras.Model(inputs=inputs, outputs=x)


# --- seed 002: AlexNet.build(227, 227, 3, 1000) --------------------------------------------------------


class AlexNet:
    """Seed 002's builder class."""

    @staticmethod
    def build(width: int, height: int, depth: int, classes: int) -> keras.Model:
        model = keras.Sequential()
        inputShape = (height, width, depth)  # noqa: N806 (the notebook's spelling)
        if keras.backend.image_data_format() == "channels_first":
            inputShape = (depth, height, width)  # noqa: N806
        model.add(keras.Input(shape=inputShape))

        # Block #1: first CONV => RELU => POOL layer set
        model.add(kl.Conv2D(96, (11, 11), strides=(4, 4), padding="valid", kernel_regularizer=l2(0.0002),
                            activation="relu"))
        model.add(kl.BatchNormalization())
        model.add(kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
        model.add(kl.Dropout(0.25))

        # Block #2: second CONV => RELU => POOL layer set
        model.add(kl.Conv2D(256, (5, 5), padding="same", kernel_regularizer=l2(0.0002), activation="relu"))
        model.add(kl.BatchNormalization())
        model.add(kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
        model.add(kl.Dropout(0.25))

        # Block #3: CONV => RELU => CONV => RELU => CONV => RELU
        model.add(kl.Conv2D(384, (3, 3), padding="same", kernel_regularizer=l2(0.0002), activation="relu"))
        model.add(kl.BatchNormalization())
        model.add(kl.Conv2D(384, (3, 3), padding="same", kernel_regularizer=l2(0.002), activation="relu"))
        model.add(kl.BatchNormalization())
        model.add(kl.Conv2D(256, (3, 3), padding="same", kernel_regularizer=l2(0.002), activation="relu"))
        model.add(kl.BatchNormalization())
        model.add(kl.MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
        model.add(kl.Dropout(0.25))

        # Block #4: first set of FC => RELU layers
        model.add(kl.Flatten())
        model.add(kl.Dense(4096, kernel_regularizer=l2(0.0002), activation="relu"))
        model.add(kl.BatchNormalization())
        model.add(kl.Dropout(0.5))

        # Block #5: second set of FC => RELU layers
        model.add(kl.Dense(4096, kernel_regularizer=l2(0.0002), activation="relu"))
        model.add(kl.BatchNormalization())
        model.add(kl.Dropout(0.5))

        # softmax classifier
        model.add(kl.Dense(classes, kernel_regularizer=l2(0.0002)))
        model.add(kl.Activation("softmax"))
        return model


# --- seed 003: the MNIST AlexNet ------------------------------------------------------------------------


def seed_003_mnist() -> keras.Model:
    """Seed 003's model (INPUT_SHAPE = (28, 28, 1))."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        kl.ZeroPadding2D(1),
        kl.Conv2D(filters=32, kernel_size=3, activation="relu"),
        kl.MaxPool2D(),
        kl.ZeroPadding2D(2),
        kl.Conv2D(64, 5, activation="relu"),
        kl.MaxPool2D(),
        kl.ZeroPadding2D(1),
        kl.Conv2D(128, kernel_size=3, activation="relu"),
        kl.ZeroPadding2D(1),
        kl.Conv2D(256, kernel_size=3, activation="relu"),
        kl.ZeroPadding2D(1),
        kl.Conv2D(256, kernel_size=3, activation="relu"),
        kl.MaxPool2D(pool_size=3, strides=2),
        kl.Flatten(),
        kl.Dense(1024, activation="relu"),
        kl.Dropout(.5),
        kl.Dense(512, activation="relu"),
        kl.Dropout(.5),
        kl.Dense(10, activation="softmax"),
    ], name="AlexNet")


# --- seed 004 (Chinese tutorial): the canonical AlexNet with dropout --------------------------------------


def seed_004_alexnet() -> keras.Model:
    """Seed 004's model."""
    return keras.models.Sequential([
        keras.layers.InputLayer(shape=(227, 227, 3)),
        keras.layers.Conv2D(filters=96, kernel_size=(11, 11), strides=(4, 4), padding="valid", activation="relu"),
        keras.layers.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        keras.layers.Conv2D(filters=256, kernel_size=(5, 5), padding="same", activation="relu"),
        keras.layers.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        keras.layers.Conv2D(filters=384, kernel_size=(3, 3), padding="same", activation="relu"),
        keras.layers.Conv2D(filters=384, kernel_size=(3, 3), padding="same", activation="relu"),
        keras.layers.Conv2D(filters=256, kernel_size=(3, 3), padding="same", activation="relu"),
        keras.layers.MaxPool2D(pool_size=(3, 3), strides=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(4096, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(4096, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(1000, activation="softmax"),
    ])


# --- the 2012 paper: groups=2 and LRN (no notebook builds it) -------------------------------------------


class LocalResponseNormalization(kl.Layer):
    """The paper's LRN, b = a / (bias + alpha * sum of a^2 over `size` channels) ** beta; no weights."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, bias: float = 2.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.bias = size, alpha, beta, bias

    def call(self, x: Any) -> Any:
        half, channels = self.size // 2, x.shape[-1]
        squares = keras.ops.pad(keras.ops.square(x), [[0, 0], [0, 0], [0, 0], [half, half]])
        total = sum(squares[..., i:i + channels] for i in range(self.size))
        return x / keras.ops.power(self.bias + self.alpha * total, self.beta)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape


def paper_alexnet() -> keras.Model:
    """The paper's network on one device: the two GPUs' halves are groups=2 in conv2, conv4, conv5."""
    w_init = keras.initializers.RandomNormal(mean=0.0, stddev=0.01)
    return keras.Sequential([
        keras.Input(shape=(227, 227, 3)),
        kl.Conv2D(96, 11, strides=4, activation="relu", kernel_initializer=w_init, bias_initializer="zeros"),
        LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, bias=2.0),
        kl.MaxPooling2D(pool_size=3, strides=2),
        kl.Conv2D(256, 5, padding="same", groups=2, activation="relu", kernel_initializer=w_init,
                  bias_initializer="ones"),
        LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, bias=2.0),
        kl.MaxPooling2D(pool_size=3, strides=2),
        kl.Conv2D(384, 3, padding="same", activation="relu", kernel_initializer=w_init, bias_initializer="zeros"),
        kl.Conv2D(384, 3, padding="same", groups=2, activation="relu", kernel_initializer=w_init,
                  bias_initializer="ones"),
        kl.Conv2D(256, 3, padding="same", groups=2, activation="relu", kernel_initializer=w_init,
                  bias_initializer="ones"),
        kl.MaxPooling2D(pool_size=3, strides=2),
        kl.Flatten(),
        kl.Dense(4096, activation="relu", kernel_initializer=w_init, bias_initializer="ones"),
        kl.Dropout(0.5),
        kl.Dense(4096, activation="relu", kernel_initializer=w_init, bias_initializer="ones"),
        kl.Dropout(0.5),
        kl.Dense(1000, activation="softmax", kernel_initializer=w_init, bias_initializer="zeros"),
    ])


BUILDERS: dict[str, Callable[[], keras.Model]] = {
    "alexnet": seed_004_alexnet,
    "alexnet_plain": seed_000_alexnet_1,
    "alexnet_bn": seed_000_alexnet_2,
    "alexnet_two_tower": seed_001_two_tower,
    "alexnet_bn_l2": lambda: AlexNet.build(227, 227, 3, 1000),
    "alexnet_mnist": seed_003_mnist,
    "alexnet_paper": paper_alexnet,
    # not a seed: spec/vgg16.yaml (written with `repeat:`) against Keras's own VGG-16, matched by layer name
    "vgg16": lambda: keras.applications.VGG16(weights=None),
}

# --- comparison helpers ---------------------------------------------------------------------------------


def count(weights: list[Any]) -> int:
    """Number of scalars in a list of Keras variables."""
    return sum(math.prod(w.shape) for w in weights)


def keras_layers(model: keras.Model) -> list[Any]:
    """The model's layers without the InputLayer."""
    return [layer for layer in model.layers if not isinstance(layer, kl.InputLayer)]


def pairs(model: keras.Model, graph: Graph) -> list[tuple[Any, Node]]:
    """(Keras layer, spec node): by order for Sequential models, by name for functional ones."""
    found = keras_layers(model)
    if isinstance(model, keras.Sequential):
        assert len(found) == len(graph.nodes), [layer.name for layer in found]
        return list(zip(found, graph.nodes, strict=True))
    named = {layer.name: layer for layer in found}
    assert sorted(named) == sorted(n.name for n in graph.nodes)
    return [(named[node.name], node) for node in graph.nodes]


def initializer(value: Any) -> tuple[str, dict[str, float]]:
    """A comparable (class name, numbers) for a spec initializer or a Keras initializer config."""
    if isinstance(value, str):
        return "".join(part.title() for part in value.split("_")), {}
    if isinstance(value, dict):  # Keras config
        numbers = {k: v for k, v in value["config"].items() if k != "seed" and v is not None}
        return value["class_name"], numbers
    numbers = value.model_dump(exclude={"type"})
    return initializer(value.type)[0], numbers


def hyperparameters(layer: Any) -> dict[str, Any]:
    """What the spec says about a Keras layer's weights and activation."""
    config = layer.get_config()
    found: dict[str, Any] = {"activation": config.get("activation")}
    if "kernel_initializer" in config:
        found["kernel_initializer"] = initializer(config["kernel_initializer"])
        found["bias_initializer"] = initializer(config["bias_initializer"])
        regularizer = config.get("kernel_regularizer")
        found["l2"] = round(regularizer["config"]["l2"], 9) if regularizer else None
    return found


def spec_hyperparameters(node: Node) -> dict[str, Any]:
    """The same, from the spec."""
    layer = node.layer
    found: dict[str, Any] = {"activation": getattr(layer, "activation", None)}
    if node.type in {"conv2d", "dense"}:
        found["activation"] = layer.activation or "linear"
        found["kernel_initializer"] = initializer(layer.kernel_initializer)
        found["bias_initializer"] = initializer(layer.bias_initializer)
        found["l2"] = round(layer.kernel_regularizer.l2, 9) if layer.kernel_regularizer else None
    return found


@pytest.fixture(scope="module", autouse=True)
def fresh_session() -> Iterator[None]:
    """Start and end with an empty Keras session (the models are large)."""
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


@pytest.fixture(params=SPEC_NAMES)
def built(request: pytest.FixtureRequest) -> Iterator[tuple[keras.Model, Graph]]:
    """(the seed's Keras model, the spec's analysed graph), for every spec in spec/."""
    name = request.param
    assert name in BUILDERS, f"spec/{name}.yaml has no Keras reference model in this test"
    model = BUILDERS[name]()
    yield model, load_graph(SPEC_DIR / f"{name}.yaml")
    del model
    keras.backend.clear_session()


def test_every_spec_has_a_reference() -> None:
    assert sorted(BUILDERS) == sorted(SPEC_NAMES)


def test_layer_by_layer(built: tuple[keras.Model, Graph]) -> None:
    model, graph = built
    for layer, node in pairs(model, graph):
        where = f"{graph.name}: {node.name} vs Keras {layer.name}"
        assert KERAS_TYPES[type(layer).__name__] == node.type, where
        assert tuple(layer.output.shape[1:]) == node.shape, where
        assert layer.count_params() == node.params, where
        assert count(layer.trainable_weights) == node.trainable, where
        assert count(layer.non_trainable_weights) == node.non_trainable, where
        assert hyperparameters(layer) == spec_hyperparameters(node), where


def test_totals(built: tuple[keras.Model, Graph]) -> None:
    model, graph = built
    assert model.count_params() == graph.total_params
    assert count(model.trainable_weights) == graph.trainable_params
    assert count(model.non_trainable_weights) == graph.total_params - graph.trainable_params
    assert tuple(model.input_shape[1:]) == graph.input_shape
    assert tuple(model.output_shape[1:]) == graph.output.shape


def test_connections_of_the_functional_model() -> None:
    model, graph = seed_001_two_tower(), load_graph(SPEC_DIR / "alexnet_two_tower.yaml")
    input_name = model.layers[0].name
    for node in graph.nodes:
        layer = model.get_layer(node.name)
        sources = [t._keras_history.operation.name for t in keras.tree.flatten(layer._inbound_nodes[0].input_tensors)]
        assert ["input" if s == input_name else s for s in sources] == node.inputs, node.name
    keras.backend.clear_session()
