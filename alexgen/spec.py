"""The spec language: pydantic models for a declarative AlexNet-family network."""

from __future__ import annotations

import keyword
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]*$"
SNAKE_CASE = r"^[a-z][a-z0-9_]*$"
MAX_NAME = 64
SOFT_KEYWORDS = frozenset({"_", "case", "match", "type"})  # fixed, so validity does not depend on the Python version

NonNegInt = Annotated[int, Field(ge=0)]
Size = Annotated[PositiveInt, Field(le=1_000_000)]
SizePair = Annotated[list[Size], Field(min_length=2, max_length=2)]
IntOrPair = Union[Size, SizePair]
PadPair = Annotated[list[NonNegInt], Field(min_length=2, max_length=2)]
ExplicitPadding = Union[NonNegInt, PadPair, Annotated[list[PadPair], Field(min_length=2, max_length=2)]]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Activation = Literal["relu", "softmax", "sigmoid", "tanh", "linear"]


def check_name(value: str) -> str:
    """Reject Python keywords and dunder-like names; the pattern is checked by the field."""
    if keyword.iskeyword(value) or value in SOFT_KEYWORDS:
        raise ValueError(f"'{value}' is a Python keyword")
    if "__" in value:
        raise ValueError(f"'{value}' contains '__', which is reserved")
    return value


class Strict(BaseModel):
    """Base: unknown keys, wrong types and non-finite numbers are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# --- initializers and regularizers -------------------------------------------------------

InitializerName = Literal["zeros", "ones", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform"]


class RandomNormal(Strict):
    """N(mean, stddev) samples."""

    type: Literal["random_normal"]
    mean: float = 0.0
    stddev: Positive = 0.05


class TruncatedNormal(Strict):
    """N(mean, stddev) samples redrawn beyond two standard deviations."""

    type: Literal["truncated_normal"]
    mean: float = 0.0
    stddev: Positive = 0.05


class RandomUniform(Strict):
    """U(minval, maxval) samples."""

    type: Literal["random_uniform"]
    minval: float = -0.05
    maxval: float = 0.05

    @model_validator(mode="after")
    def _ordered(self) -> RandomUniform:
        if self.minval >= self.maxval:
            raise ValueError("minval must be smaller than maxval")
        return self


class Constant(Strict):
    """Every value equal to `value`."""

    type: Literal["constant"]
    value: float = 0.0


InitializerSpec = Annotated[RandomNormal | TruncatedNormal | RandomUniform | Constant, Field(discriminator="type")]
Initializer = Union[InitializerName, InitializerSpec]


class Regularizer(Strict):
    """Keras meaning: adds l1·Σ|w| + l2·Σw² to the loss."""

    l1: NonNegative = 0.0
    l2: NonNegative = 0.0

    @model_validator(mode="after")
    def _some(self) -> Regularizer:
        if self.l1 == 0.0 and self.l2 == 0.0:
            raise ValueError("give l1 or l2 (or both), e.g. {l2: 0.0005}")
        return self


# --- layers ----------------------------------------------------------------------------


class LayerBase(Strict):
    """Keys every layer has."""

    name: Annotated[str, Field(pattern=IDENTIFIER, max_length=MAX_NAME)] | None = None
    inputs: Annotated[list[Annotated[str, Field(max_length=MAX_NAME)]], Field(min_length=1)] | None = None

    _check_name = field_validator("name")(lambda cls, v: v if v is None else check_name(v))


class WeightedLayer(LayerBase):
    """Keys shared by conv2d and dense."""

    activation: Activation | None = None
    use_bias: bool = True
    kernel_initializer: Initializer = "glorot_uniform"
    bias_initializer: Initializer = "zeros"
    kernel_regularizer: Regularizer | None = None


class Conv2D(WeightedLayer):
    """2-D convolution over channels-last input."""

    type: Literal["conv2d"]
    filters: Size
    kernel_size: IntOrPair
    strides: IntOrPair = 1
    padding: Literal["valid", "same"] | ExplicitPadding = "valid"
    groups: Size = 1
    dilation_rate: IntOrPair = 1


class Dense(WeightedLayer):
    """Fully connected layer on a flat input."""

    type: Literal["dense"]
    units: Size


class Pool2D(LayerBase):
    """Keys shared by max and average pooling."""

    pool_size: IntOrPair = 2
    strides: IntOrPair | None = None
    padding: Literal["valid", "same"] = "valid"


class MaxPool2D(Pool2D):
    """Max pooling; `same` pads with -inf, as TensorFlow does."""

    type: Literal["max_pool2d"]


class AvgPool2D(Pool2D):
    """Average pooling; `same` divides by the count of real cells, as TensorFlow does."""

    type: Literal["avg_pool2d"]


class AdaptiveAvgPool2D(LayerBase):
    """Average pooling to a fixed output size (PyTorch's bins)."""

    type: Literal["adaptive_avg_pool2d"]
    output_size: IntOrPair


class GlobalAvgPool2D(LayerBase):
    """Mean over height and width."""

    type: Literal["global_avg_pool2d"]


class ZeroPadding2D(LayerBase):
    """Explicit zero padding: int, [h, w] or [[top, bottom], [left, right]]."""

    type: Literal["zero_padding2d"]
    padding: ExplicitPadding = 1


class BatchNorm(LayerBase):
    """Batch normalization over the channel axis, Keras meaning of momentum."""

    type: Literal["batch_norm"]
    epsilon: Positive = 0.001
    momentum: Rate = 0.99


class LRN(LayerBase):
    """Local response normalization, the paper's formula: a / (bias + alpha·Σa²)^beta."""

    type: Literal["lrn"]
    size: Annotated[PositiveInt, Field(le=1001)] = 5
    alpha: Positive = 1e-4
    beta: Positive = 0.75
    bias: Positive = 2.0

    @field_validator("size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"size must be odd (got {value}): an even window has no centre channel")
        return value


class Dropout(LayerBase):
    """Drops a fraction `rate` of activations while training."""

    type: Literal["dropout"]
    rate: Rate


class Flatten(LayerBase):
    """Flattens height, width and channels (in that order, channels-last)."""

    type: Literal["flatten"]


class ActivationLayer(LayerBase):
    """A standalone activation."""

    type: Literal["activation"]
    activation: Activation


class Concatenate(LayerBase):
    """Joins its inputs along `axis` (Keras convention, batch axis 0; default channels)."""

    type: Literal["concatenate"]
    inputs: Annotated[list[Annotated[str, Field(max_length=MAX_NAME)]], Field(min_length=2)]  # type: ignore[assignment]
    axis: int = -1


Layer = Annotated[
    Conv2D | Dense | MaxPool2D | AvgPool2D | AdaptiveAvgPool2D | GlobalAvgPool2D | ZeroPadding2D | BatchNorm | LRN
    | Dropout | Flatten | ActivationLayer | Concatenate,
    Field(discriminator="type"),
]

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

    type: Literal["rmsprop"]
    learning_rate: Positive = 0.001
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
    metrics: list[Literal["accuracy", "top5_accuracy"]] = Field(default_factory=list)
    batch_size: Annotated[PositiveInt, Field(le=1_000_000)] = 32
    epochs: Annotated[PositiveInt, Field(le=1_000_000)] = 1
    lr_schedule: LRSchedule | None = None
    augmentation: Augmentation | None = None


# --- the spec --------------------------------------------------------------------------


class Spec(Strict):
    """A whole network: input, layers in order, and optionally its training set-up."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_by_name=True,
                              validate_by_alias=True)

    schema_: str | None = Field(default=None, alias="$schema")
    alexgen: Literal[1] = Field(description="spec format version")
    name: Annotated[str, Field(pattern=SNAKE_CASE, max_length=MAX_NAME)]
    description: Annotated[str, Field(max_length=10_000)] | None = None
    input_shape: Annotated[list[Size], Field(min_length=3, max_length=3, description="height, width, channels")]
    layers: Annotated[list[Layer], Field(min_length=1, max_length=10_000)]
    training: Training | None = None

    _check_name = field_validator("name")(lambda cls, v: check_name(v))


LAYER_MODELS: dict[str, type[LayerBase]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (Conv2D, Dense, MaxPool2D, AvgPool2D, AdaptiveAvgPool2D, GlobalAvgPool2D, ZeroPadding2D, BatchNorm,
                LRN, Dropout, Flatten, ActivationLayer, Concatenate)
}
TAGGED_MODELS: dict[str, type[Strict]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (RandomNormal, TruncatedNormal, RandomUniform, Constant, SGD, Adam, Adadelta, RMSprop, ReduceOnPlateau,
                StepSchedule)
}
