"""A compiled Keras model's optimizer, loss and metrics as the spec's `training`, exactly or refused."""

from __future__ import annotations

from typing import Any

from alexgen.importers.draft import Origin, Problems
from alexgen.keras_io import generated_class

OPTIMIZERS = {"SGD": ("sgd", ("momentum", "nesterov")), "Adam": ("adam", ("beta_1", "beta_2", "epsilon")),
              "Adadelta": ("adadelta", ("rho", "epsilon")),
              "RMSprop": ("rmsprop", ("rho", "momentum", "epsilon", "centered")),
              "alexgen>SGDWithCoupledWeightDecay": ("sgd", ("momentum", "nesterov", "coupled_weight_decay"))}
UNSUPPORTED_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                        "use_ema": False, "loss_scale_factor": None, "gradient_accumulation_steps": None,
                        "amsgrad": False}
LOSSES = {"CategoricalCrossentropy": "categorical_crossentropy",
          "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy"}
TOP_K = ("TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy")


def float32(value: float) -> float:
    """The shortest decimal of a float32 (Keras keeps the learning rate in a float32 variable)."""
    import numpy as np

    return float(str(np.float32(value)))


def optimizer(config: dict[str, Any], origin: Origin, problems: Problems) -> dict[str, Any] | None:
    """The optimizer, every hyperparameter explicit."""
    generated = generated_class(str(config.get("registered_name") or ""))
    key = f"alexgen>{generated}" if generated else config.get("class_name")
    if key not in OPTIMIZERS:
        problems.add(origin.problem(f"the optimizer {key!r} has no spec equivalent", f"supported: "
                                    f"{', '.join(OPTIMIZERS)}"))
        return None
    kind, keys = OPTIMIZERS[key]
    values = config["config"]
    for name, default in UNSUPPORTED_DEFAULTS.items():
        if values.get(name, default) != default:
            hint = "Keras's weight_decay is decoupled; the spec's SGD weight_decay is the coupled (paper's) rule" \
                if name == "weight_decay" else None
            problems.add(origin.problem(f"optimizer {name}={values[name]!r} has no spec equivalent", hint))
    rate = values.get("learning_rate")
    if not isinstance(rate, (int, float)):
        problems.add(origin.problem("a learning-rate schedule object has no spec equivalent",
                                    "use a float learning rate (the spec's lr_schedule is a callback)"))
        return None
    out = {"type": kind, "learning_rate": float32(rate)}
    for name in keys:
        value = values[name]
        out["weight_decay" if name == "coupled_weight_decay" else name] = value if isinstance(value, bool) \
            else float(value)
    return out


def loss(config: Any, probabilities: bool, origin: Origin, problems: Problems) -> str | None:
    """The loss name; its from_logits must be what the spec derives from the last layer."""
    cls, values = (config, {}) if isinstance(config, str) else (config.get("class_name"), config.get("config", {}))
    name = LOSSES.get(cls, cls if cls in LOSSES.values() else None)
    if name is None:
        problems.add(origin.problem(f"the loss {cls!r} has no spec equivalent", f"supported: {', '.join(LOSSES)}"))
        return None
    if values.get("label_smoothing", 0.0) or values.get("axis", -1) != -1 or values.get("ignore_class") is not None:
        problems.add(origin.problem("loss options (label_smoothing, axis, ignore_class) have no spec equivalent"))
    from_logits = bool(values.get("from_logits", False))
    if from_logits == probabilities:
        problems.add(origin.problem(
            f"the loss has from_logits={from_logits!r} on a model whose output is "
            f"{'a softmax' if probabilities else 'not a softmax'}",
            "the spec computes the loss from logits exactly when the last layer is not a softmax"))
    return name


def metric(config: Any, origin: Origin, problems: Problems) -> str | None:
    """accuracy or top5_accuracy."""
    if config in ("accuracy", "acc"):
        return "accuracy"
    if isinstance(config, dict) and config.get("class_name") in TOP_K and config["config"].get("k") == 5:
        return "top5_accuracy"
    problems.add(origin.problem(f"the metric {config!r} has no spec equivalent", "supported: accuracy, top-5"))
    return None


def training(model: Any, output_activation: str | None, source: str, problems: Problems) -> dict[str, Any] | None:
    """`training` from compile(), or None when the model is not compiled."""
    if not getattr(model, "compiled", False):
        return None
    config = model.get_compile_config() or {}
    origin = Origin(source, layer="compile()")
    for key in ("loss_weights", "weighted_metrics"):
        if config.get(key):
            problems.add(origin.problem(f"compile({key}=...) has no spec equivalent"))
    out: dict[str, Any] = {"optimizer": optimizer(config.get("optimizer") or {}, origin, problems),
                           "loss": loss(config.get("loss"), output_activation == "softmax", origin, problems)}
    metrics = [metric(m, origin, problems) for m in config.get("metrics") or []]
    if metrics:
        out["metrics"] = metrics
    return out
