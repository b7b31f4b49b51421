"""The reference side: the generated Keras module run on any Keras backend, its results as plain arrays.

Everything here returns numpy arrays keyed by name, so it can run in this process or in a worker process with
another KERAS_BACKEND (alexgen.check.worker) and hand its results over in a safetensors file.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from alexgen import weights as w
from alexgen.check.common import floatx
from alexgen.graph import Graph

if TYPE_CHECKING:
    from alexgen.check.common import Array

Records = dict[str, "Array"]


def keras_module(graph: Graph, spec_path: str) -> ModuleType:
    """Render and import the generated Keras module."""
    from alexgen.frameworks import generated_module

    return generated_module(graph, spec_path, "keras")


def cast(tensors: dict[str, Array], dtype: str) -> dict[str, Array]:
    """Every tensor in `dtype` (the float32 draws are exact in float64)."""
    return {key: value.astype(dtype) for key, value in tensors.items()}


def forward(graph: Graph, module: ModuleType, dtype: str, tensors: dict[str, Array], x: Array) -> Records:
    """Every layer's output in inference mode, plus counts, shapes and the neutral round trip of the weights."""
    import keras
    import numpy as np

    with floatx(dtype):
        model = module.build_model()
        start = cast(tensors, dtype)
        w.neutral_to_keras(graph, model, start)
        back = w.keras_to_neutral(graph, model)
        same = set(back) == set(start) and all(np.array_equal(back[k], start[k]) for k in start)
        records: Records = {"roundtrip": np.array([int(same)])}
        for node in graph.nodes:
            layer = model.get_layer(node.name)
            records[f"params/{node.name}"] = np.array([layer.count_params()])
            records[f"shape/{node.name}"] = np.array(tuple(layer.output.shape[1:]), dtype=np.int64)
        probe = keras.Model(model.inputs, [model.get_layer(n.name).output for n in graph.nodes])
        outputs = probe([x.astype(dtype)], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]  # one layer: a bare tensor
        for node, out in zip(graph.nodes, outputs, strict=True):
            records[f"out/{node.name}"] = np.asarray(keras.ops.convert_to_numpy(out))
    return records


def silence_dropout(model: Any) -> None:
    """Dropout rate 0, so training steps are deterministic."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0


def record_gradients(optimizer: Any, sink: list[Any]) -> None:
    """Keep every gradient the optimizer is given (TensorFlow and torch call `apply`, JAX `stateless_apply`)."""
    apply, stateless = optimizer.apply, optimizer.stateless_apply

    def recording_apply(grads: Any, variables: Any = None) -> Any:
        sink[:] = list(grads)
        return apply(grads, variables)

    def recording_stateless(state: Any, grads: Any, variables: Any) -> Any:
        sink[:] = list(grads)
        return stateless(state, grads, variables)

    optimizer.apply, optimizer.stateless_apply = recording_apply, recording_stateless


def exact_regularizers(graph: Graph, model: Any) -> None:
    """Regularization factors as the spec's float64 numbers.

    Keras casts a regularizer's factor through float32 (L1 even stores it as a float32 tensor): 0.001 becomes
    0.0010000000475, which alone differs by 5e-8 in a float64 check. In float32 both frameworks round it alike.
    """
    import numpy as np

    for node in graph.weighted:
        spec = getattr(node.layer, "kernel_regularizer", None)
        regularizer = getattr(model.get_layer(node.name), "kernel_regularizer", None)
        for name in ("l1", "l2"):
            if spec is not None and regularizer is not None and hasattr(regularizer, name):
                setattr(regularizer, name, np.float64(getattr(spec, name)))


HYPERPARAMETERS = ("momentum", "beta_1", "beta_2", "epsilon", "rho", "coupled_weight_decay")


def exact_hyperparameters(optimizer: Any) -> None:
    """The optimizer's Python-float constants as float64 numbers (Keras casts them through float32 as well)."""
    import numpy as np

    for name in HYPERPARAMETERS:
        if isinstance(getattr(optimizer, name, None), float):
            setattr(optimizer, name, np.float64(getattr(optimizer, name)))


def variable_keys(graph: Graph, model: Any) -> dict[str, str]:
    """Keras variable path -> neutral key."""
    keys = {}
    for node in graph.weighted:
        for slot, variable in zip(node.slots, model.get_layer(node.name).weights, strict=True):
            keys[variable.path] = f"{node.name}.{slot.name}"
    return keys


def steps(graph: Graph, module: ModuleType, tensors: dict[str, Array], x: Array, y: Array,
          count: int) -> Iterator[Records]:
    """`count` float64 training steps with the spec's optimizer, loss, regularizers and schedule (one step = one
    epoch of the schedule); per step: learning rate, loss, every gradient, every tensor after it."""
    import keras
    import numpy as np

    with floatx("float64"):
        model = module.build_model()
        w.neutral_to_keras(graph, model, cast(tensors, "float64"))
        silence_dropout(model)
        exact_regularizers(graph, model)
        module.compile_model(model)
        # eagerly, so the optimizer's gradients can be recorded as arrays
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=[], run_eagerly=True)
        exact_hyperparameters(model.optimizer)
        grads: list[Any] = []
        record_gradients(model.optimizer, grads)
        callbacks = [c for c in module.make_callbacks() if isinstance(c, keras.callbacks.LearningRateScheduler)]
        for callback in callbacks:
            callback.set_model(model)
        keys = variable_keys(graph, model)
        for step in range(count):
            for callback in callbacks:
                callback.on_epoch_begin(step)
            lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            logs = model.train_on_batch(x, y, return_dict=True)
            records: Records = {"lr": np.array([lr]), "loss": np.array([float(logs["loss"])])}
            for variable, grad in zip(model.trainable_variables, grads, strict=True):
                records[f"grad/{keys[variable.path]}"] = np.asarray(keras.ops.convert_to_numpy(grad))
            for key, value in w.keras_to_neutral(graph, model).items():
                records[f"after/{key}"] = value
            grads.clear()
            yield records
