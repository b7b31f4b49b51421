"""Building Python source from plain values, safely (every string through repr)."""

from __future__ import annotations


class Code(str):
    """Source text that is emitted as is (already built from validated parts)."""


def py_literal(value: object) -> str:
    """Python source for a plain value: repr(), which escapes every string safely."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else (
            f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
    return repr(value)


def arg(value: object) -> str:
    """One argument: Code as is, everything else as a Python literal."""
    return str(value) if isinstance(value, Code) else py_literal(value)


def call(function: str, *args: object, **kwargs: object) -> Code:
    """`function(arg, ..., key=value, ...)`, dropping keyword arguments whose value is None."""
    parts = [arg(a) for a in args] + [f"{k}={arg(v)}" for k, v in kwargs.items() if v is not None]
    return Code(f"{function}({', '.join(parts)})")


def pair_text(pair: tuple[int, int]) -> int | tuple[int, int]:
    """A square pair as one int (as people write `kernel_size=3`), else the tuple."""
    return pair[0] if pair[0] == pair[1] else pair


def literal(value: float) -> float:
    """A computed float without binary noise (0.010000000000000009 -> 0.01)."""
    return round(value, 12) if abs(value) >= 1e-6 else float(f"{value:.12g}")


def torch_pads(pads: tuple[tuple[int, int], tuple[int, int]]) -> int | tuple[int, int, int, int]:
    """((top, bottom), (left, right)) as F.pad's (left, right, top, bottom), an int when uniform."""
    (top, bottom), (left, right) = pads
    return left if len({top, bottom, left, right}) == 1 else (left, right, top, bottom)


def keras_pads(pads: tuple[tuple[int, int], tuple[int, int]]) -> object:
    """ZeroPadding2D's padding: an int when uniform, else ((top, bottom), (left, right))."""
    flat = {pads[0][0], pads[0][1], pads[1][0], pads[1][1]}
    return flat.pop() if len(flat) == 1 else pads
