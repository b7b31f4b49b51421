"""The spec language: pydantic models for a declarative AlexNet-family network (layer models live in alexgen.ops)."""

from __future__ import annotations

import operator
from functools import reduce
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field, PositiveInt, field_validator, model_validator

from alexgen.ops import OPS
from alexgen.ops.activation import ActivationLayer
from alexgen.ops.adaptive_avg_pool2d import AdaptiveAvgPool2D
from alexgen.ops.avg_pool2d import AvgPool2D
from alexgen.ops.batch_norm import BatchNorm
from alexgen.ops.concatenate import Concatenate
from alexgen.ops.conv2d import Conv2D
from alexgen.ops.dense import Dense
from alexgen.ops.dropout import Dropout
from alexgen.ops.flatten import Flatten
from alexgen.ops.global_avg_pool2d import GlobalAvgPool2D
from alexgen.ops.lrn import LRN
from alexgen.ops.max_pool2d import MaxPool2D
from alexgen.ops.zero_padding2d import ZeroPadding2D
from alexgen.specbase import (
    IDENTIFIER,
    MAX_NAME,
    SNAKE_CASE,
    Activation,
    Constant,
    Initializer,
    InitializerName,
    LayerBase,
    NonNegative,
    Positive,
    RandomNormal,
    RandomUniform,
    Rate,
    Regularizer,
    Size,
    Strict,
    TruncatedNormal,
    WeightedLayer,
    check_name,
)

__all__ = ["IDENTIFIER", "LAYER_MODELS", "MAX_NAME", "SNAKE_CASE", "TAGGED_MODELS", "LRN", "SGD", "Activation",
           "ActivationLayer", "AdaptiveAvgPool2D", "Adadelta", "Adam", "AvgPool2D", "BatchNorm", "Concatenate",
           "Constant", "Conv2D", "Dense", "Dropout", "Flatten", "GlobalAvgPool2D", "Initializer", "InitializerName",
           "Layer", "LayerBase", "MaxPool2D", "Optimizer", "RMSprop", "RandomNormal", "RandomUniform", "Regularizer",
           "ReduceOnPlateau", "Spec", "StepSchedule", "Strict", "Training", "TruncatedNormal", "WeightedLayer",
           "ZeroPadding2D", "check_name"]

if TYPE_CHECKING:
    Layer = LayerBase
else:  # the discriminated union of every registered op's model
    Layer = Annotated[reduce(operator.or_, [op.model for op in OPS]), Field(discriminator="type")]

# --- training --------------------------------------------------------------------------


class SGD(Strict):
    """SGD with momentum; weight decay enters the gradient (the paper's rule, PyTorch's)."""

    type: Literal["sgd"]
    learning_rate: Positive = 0.01
    momentum: Rate = 0.0
    nesterov: bool = False
    weight_decay: NonNegative = 0.0


class Adam(Strict):
    """Adam; defaults are Keras's, epsilon included."""

    type: Literal["adam"]
    learning_rate: Positive = 0.001
    beta_1: Rate = 0.9
    beta_2: Rate = 0.999
    epsilon: Positive = 1e-7


class Adadelta(Strict):
    """Adadelta; defaults are Keras 3's."""

    type: Literal["adadelta"]
    learning_rate: Positive = 0.001
    rho: Rate = 0.95
    epsilon: Positive = 1e-7


class RMSprop(Strict):
    """RMSprop; defaults are Keras's."""

    learning_rate: Positive = 0.001
    type: Literal["rmsprop"]
    rho: Rate = 0.9
    momentum: Rate = 0.0
    epsilon: Positive = 1e-7
    centered: bool = False


Optimizer = Annotated[SGD | Adam | Adadelta | RMSprop, Field(discriminator="type")]


class ReduceOnPlateau(Strict):
    """Multiply the learning rate by `factor` when `monitor` stops improving for `patience` epochs."""

    type: Literal["reduce_on_plateau"]
    factor: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    patience: PositiveInt = 10
    monitor: Literal["val_loss", "val_accuracy", "loss"] = "val_loss"
    min_lr: NonNegative = 0.0


class StepSchedule(Strict):
    """Multiply the learning rate by `factor` every `step_size` epochs."""

    type: Literal["step"]
    step_size: PositiveInt
    factor: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1


LRSchedule = Annotated[ReduceOnPlateau | StepSchedule, Field(discriminator="type")]


class Augmentation(Strict):
    """The paper's augmentation: resize the shorter side, crop to the input size, flip, PCA colour jitter."""

    resize: Size = 256
    random_crop: bool = True
    horizontal_flip: bool = True
    pca_jitter: Annotated[float, Field(ge=0.0, le=10.0)] = 0.1

    @model_validator(mode="after")
    def _does_something(self) -> Augmentation:
        if not (self.random_crop or self.horizontal_flip or self.pca_jitter):
            raise ValueError("augmentation does nothing: enable random_crop, horizontal_flip or pca_jitter, "
                             "or remove it")
        return self


class Training(Strict):
    """How the network is trained."""

    optimizer: Optimizer = Field(default_factory=lambda: SGD(type="sgd"))
    loss: Literal["categorical_crossentropy", "sparse_categorical_crossentropy"] = "categorical_crossentropy"
    # a lambda, not `list`: for a builtin, pydantic reads the signature by tokenizing its text (1.4 ms a first run)
    metrics: list[Literal["accuracy", "top5_accuracy"]] = Field(default_factory=lambda: [])
    batch_size: Annotated[PositiveInt, Field(le=1_000_000)] = 32
    epochs: Annotated[PositiveInt, Field(le=1_000_000)] = 1
    lr_schedule: LRSchedule | None = None
    augmentation: Augmentation | None = None


# --- the spec --------------------------------------------------------------------------


class Spec(Strict):
    """A whole network: input, layers in order, and optionally its training set-up."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_by_name=True,
                              validate_by_alias=True, defer_build=True)

    schema_: str | None = Field(default=None, alias="$schema")
    alexgen: Literal[1] = Field(description="spec format version")
    name: Annotated[str, Field(pattern=SNAKE_CASE, max_length=MAX_NAME)]
    description: Annotated[str, Field(max_length=10_000)] | None = None
    input_shape: Annotated[list[Size], Field(min_length=3, max_length=3, description="height, width, channels")]
    layers: Annotated[list[Layer], Field(min_length=1, max_length=10_000)]
    training: Training | None = None

    _check_name = field_validator("name")(lambda cls, v: check_name(v))


LAYER_MODELS: dict[str, type[LayerBase]] = {op.name: op.model for op in OPS}
TAGGED_MODELS: dict[str, type[Strict]] = {
    tag: cls
    for cls in (RandomNormal, TruncatedNormal, RandomUniform, Constant, SGD, Adam, Adadelta, RMSprop, ReduceOnPlateau,
                StepSchedule)
    for tag in getattr(cls.model_fields["type"].annotation, "__args__", ())
}
