"""The spec language's building blocks: strict models, sizes, names, initializers and the layer base classes."""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING, Annotated, Literal, Union

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

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)


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
    """Keys every layer has; each op module's model adds `type: Literal[...]` and its own keys."""

    if TYPE_CHECKING:
        type: str

    name: Annotated[str, Field(pattern=IDENTIFIER, max_length=MAX_NAME)] | None = None
    inputs: Annotated[list[Annotated[str, Field(max_length=MAX_NAME)]], Field(min_length=1)] | None = None

    _check_name = field_validator("name")(lambda cls, v: v if v is None else check_name(v))


class WeightedLayer(LayerBase):
    """Keys shared by layers with a kernel and a bias (conv2d, depthwise_conv2d, dense)."""

    activation: Activation | None = None
    use_bias: bool = True
    kernel_initializer: Initializer = "glorot_uniform"
    bias_initializer: Initializer = "zeros"
    kernel_regularizer: Regularizer | None = None
