"""What an op is: everything alexgen knows about one layer type, held in one object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from alexgen.analysis import Field, LayerStats, Shape
from alexgen.specbase import LayerBase
from alexgen.targets.emit import Code

if TYPE_CHECKING:
    from alexgen.graph import Node

L = TypeVar("L", bound=LayerBase)
KerasLayer = tuple[str, Code]  # (Keras layer name, constructor call)
Flat = Literal["new", "keep", "join", "flatten"]


@dataclass(frozen=True)
class Module:
    """One PyTorch submodule: its name, its constructor call and an optional comment above it.

    `not_inplace`: the same module without in-place work, used where an in-place op would change a tensor that
    autograd or the caller still needs.
    """

    name: str
    code: Code
    note: str | None = None
    not_inplace: Code | None = None


@dataclass(frozen=True, order=True)
class Helper:
    """A class a generated module defines once: from a template (with one detail it prints), or from the source
    text an op module holds (`template` empty). Its name is reserved in the generated module."""

    template: str
    name: str
    detail: str = ""
    source: str = ""


@dataclass(frozen=True)
class Allowance:
    """A float64 difference a *correct* conversion of one op shows, and its cause (docs/check.md, "Allowances").

    A framework that computes the op through a float32 constant (TensorFlow's leaky_relu slope attribute) makes
    the float64 reference differ from float64 arithmetic by that constant's rounding. The check adds the allowance
    to the layer's float64 limit, and `gradient` to the limit of the gradient rows of a network holding the op,
    and prints `reason` in those rows.
    """

    reason: str
    relative: float = 0.0  # relative to the layer output's largest magnitude
    absolute: float = 0.0  # in output units; the check divides it by the output's largest magnitude
    gradient: float = 0.0  # relative to a gradient tensor's largest magnitude


def float32_rounding(value: float) -> float:
    """|value - float32(value)|: what passing `value` through a float32 constant changes."""
    import struct

    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return abs(value - rounded)


@dataclass(frozen=True)
class Op(Generic[L]):
    """One layer type: its spec model, its analysis rule, and how each target writes it.

    Targets: `keras` and `pytorch` emit a node's layers / modules; None means the target cannot express the op
    (a located diagnostic, never a crash). `pytorch_functional` writes a graph forward's expression for ops that
    need no module there. `keras_helpers` / `pytorch_helpers` name classes the generated module must define.
    Optional hooks for later work (importers per source framework, check diagnoses) default to empty, so adding
    them changes no registry code.
    """

    name: str
    model: type[L]
    analyze: Callable[[L, list[Shape], list[Field]], LayerStats]
    keras: Callable[[Node[L]], list[KerasLayer]] | None = None
    pytorch: Callable[[Node[L]], list[Module]] | None = None
    pytorch_functional: Callable[[Node[L], list[str]], str] | None = None
    keras_helpers: Callable[[Node[L]], list[Helper]] | None = None
    pytorch_helpers: Callable[[Node[L]], list[Helper]] | None = None
    multi_input: bool = False  # takes two or more inputs (joined or summed)
    flat: Flat = "new"  # how a 1-D output's element order relates to its inputs' (see weights.flat_segments)
    pooling: bool = False  # ends a commented block of a chain
    trails_block: bool = False  # stays in the block before it when that block just ended (a dropout after a pool)
    held_apart: bool = False  # last before a chain's flatten: its own attribute, as torchvision's `avgpool` is
    may_alias_input: bool = False  # PyTorch may return the input tensor itself (in-place after it is unsafe)
    output_activation: Callable[[L], str | None] | None = None  # the activation the layer ends with
    fused_activation: bool = False  # that activation is a separate module / call after the layer's own
    skips_cells: bool = False  # warn when strides jump over input cells
    # importers: an activation layer reading only this layer folds into its `activation` key (conv2d, dense)
    folds_activation: bool = False
    folds_into_previous: bool = False  # a standalone activation an importer may fold into the layer before it
    # importers: a zero_padding2d named `<this layer>_pad`, read only by it, folds into its `padding` key
    absorbs_pad: bool = False
    explicit_pad: bool = False  # zero padding that a following absorbs_pad layer can take over
    size_key: str = "type"  # the key that sets the layer's size, where budget problems are located
    describe: Callable[[Node[L]], str] | None = None  # detail text of a diagram box and a diff row
    colour: str = "#ffffff"  # a diagram box's fill
    importers: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    diagnose: Callable[..., Any] | None = None
    float64_allowance: Callable[[L], Allowance | None] | None = None  # see Allowance

    def allowance(self, layer: L) -> Allowance | None:
        """The float64 difference a correct conversion of this layer may show, if any (see Allowance)."""
        return self.float64_allowance(layer) if self.float64_allowance is not None else None

    def activation(self, layer: L) -> str | None:
        """The activation function this layer ends with, if any."""
        return self.output_activation(layer) if self.output_activation is not None else None

    def detail(self, node: Node[L]) -> str:
        """A node's detail text (kernel/stride, activation, rates) for diagrams and diffs."""
        return self.describe(node) if self.describe is not None else ""
