"""The reference side: the generated Keras module run on any Keras backend, its results as plain arrays.

Everything here returns numpy arrays keyed by name, so it can run in this process or in a worker process with
another KERAS_BACKEND (alexgen.check.worker) and hand its results over in a safetensors file.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from alexgen.check.common import floatx
from alexgen.graph import Graph

if TYPE_CHECKING:
    from alexgen.check.common import Array

Records = dict[str, "Array"]


def keras_module(graph: Graph, spec_path: str) -> ModuleType:
    """Render and import the generated Keras module."""
    from alexgen.frameworks import generated_module

    return generated_module(graph, spec_path, "keras")


def load(graph: Graph, model: Any, tensors: dict[str, Array], dtype: str) -> None:
    """Set a Keras model's weights one layer at a time, each cast to `dtype` (the float32 draws are exact in
    float64): no second copy of the whole model."""
    for node in graph.weighted:
        model.get_layer(node.name).set_weights(
            [tensors[f"{node.name}.{slot.name}"].astype(dtype) for slot in node.slots]
        )


def round_trip(graph: Graph, model: Any, tensors: dict[str, Array], dtype: str) -> bool:
    """The model's weights read back equal the neutral tensors cast to `dtype`, compared one layer at a time."""
    import numpy as np

    for node in graph.weighted:
        back = model.get_layer(node.name).get_weights()
        if len(back) != len(node.slots):
            return False
        for slot, value in zip(node.slots, back, strict=True):
            if not np.array_equal(value, tensors[f"{node.name}.{slot.name}"].astype(dtype)):
                return False
    return True


def forward(graph: Graph, module: ModuleType, dtype: str, tensors: dict[str, Array], x: Array) -> Records:
    """Every layer's output in inference mode, plus counts, shapes and the neutral round trip of the weights."""
    import gc

    import numpy as np

    with floatx(dtype):
        model = module.build_model()
        load(graph, model, tensors, dtype)
        records: Records = {"roundtrip": np.array([int(round_trip(graph, model, tensors, dtype))])}
        for node in graph.nodes:
            layer = model.get_layer(node.name)
            records[f"params/{node.name}"] = np.array([layer.count_params()])
            records[f"shape/{node.name}"] = np.array(tuple(layer.output.shape[1:]), dtype=np.int64)
        for name, value in layer_outputs(graph, model, x.astype(dtype)).items():
            records[f"out/{name}"] = value
    del model
    gc.collect()
    return records


def layer_outputs(graph: Graph, model: Any, x: Array) -> Records:
    """Every layer's output of a built Keras model in inference mode, by layer name."""
    import keras
    import numpy as np

    probe = keras.Model(model.inputs, [model.get_layer(n.name).output for n in graph.nodes])
    outputs = probe([x], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]  # one layer: a bare tensor
    return {n.name: np.asarray(keras.ops.convert_to_numpy(o)) for n, o in zip(graph.nodes, outputs, strict=True)}


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


def compiled_apply(model: Any) -> None:
    """On TensorFlow, the optimizer's own update compiled with XLA (the same Keras code and rule) when it traces.

    Eagerly, the intermediates of an update (Adam: m·α, sqrt(v) + ε, their quotient) are each a float64 copy of
    the variable: 2.2 copies of the largest kernel at the peak (0.6 GB at 62M parameters), measured; a plain
    tf.function keeps them too. XLA fuses the update into one pass (0.2 copies). Fused operations may round the
    last bit differently (2e-16 on Adam's update, measured), far below any tolerance.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    eager = optimizer.apply
    compiled = [tf.function(lambda grads: eager(grads), autograph=False, jit_compile=True)]
    untraceable = (NotImplementedError, TypeError, tf.errors.OperatorNotAllowedInGraphError)

    def apply(grads: Any, variables: Any = None) -> Any:  # the variables are the ones the optimizer was built on
        if compiled:
            try:
                return compiled[0](list(grads))
            except untraceable:  # raised while tracing, before any update: e.g. Adadelta's `rho * variable`
                compiled.clear()  # with the float64 rho asks for the variable's value, which a graph has not
        return eager(grads, variables)

    optimizer.apply = apply


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


def steps(
    graph: Graph, module: ModuleType, tensors: dict[str, Array], x: Array, y: Array, count: int
) -> Iterator[Iterator[tuple[str, Array]]]:
    """`count` float64 training steps with the spec's optimizer, loss, regularizers and schedule (one step = one
    epoch of the schedule); per step, as (key, array) pairs made one at a time: learning rate, loss, every
    gradient (`grad/<key>`), every tensor after the step (`after/<key>`).

    Each step's pairs must be consumed before the next step is asked for: gradients are converted one tensor at a
    time and released before the tensors after the step are read, so no whole-model copy is ever held. `tensors`
    is let go once loaded: a caller that drops its own reference frees them for the steps.
    """
    import keras

    with floatx("float64"):
        model = module.build_model()
        load(graph, model, tensors, "float64")
        del tensors
        silence_dropout(model)
        exact_regularizers(graph, model)
        module.compile_model(model)
        # eagerly, so the optimizer's gradients can be recorded as arrays
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=[], run_eagerly=True)
        exact_hyperparameters(model.optimizer)
        compiled_apply(model)
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
            yield step_records(graph, model, keys, grads, lr, float(logs["loss"]))


def host_array(value: Any) -> Array:
    """A backend tensor as a numpy array: a view of TensorFlow's CPU buffer (no second copy of the largest
    gradient), a conversion on the other backends."""
    import keras
    import numpy as np

    if keras.backend.backend() == "tensorflow":
        return np.asarray(value)  # `value.numpy()` would copy
    return np.asarray(keras.ops.convert_to_numpy(value))


def step_records(
    graph: Graph, model: Any, keys: dict[str, str], grads: list[Any], lr: float, loss: float
) -> Iterator[tuple[str, Array]]:
    """One step's records, one array at a time; the gradients are dropped once handed out."""
    import numpy as np

    yield "lr", np.array([lr])
    yield "loss", np.array([loss])
    paths = [keys[variable.path] for variable in model.trainable_variables]
    for index, key in enumerate(paths):
        grad, grads[index] = grads[index], None
        yield f"grad/{key}", host_array(grad)
        del grad
    grads.clear()
    for node in graph.weighted:
        for slot, value in zip(node.slots, model.get_layer(node.name).get_weights(), strict=True):
            yield f"after/{node.name}.{slot.name}", np.asarray(value)
