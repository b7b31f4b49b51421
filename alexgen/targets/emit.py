"""Building Python call expressions from plain values, safely (every string through repr)."""

from __future__ import annotations

from alexgen.targets.common import py_literal


class Code(str):
    """Source text that is emitted as is (already built from validated parts)."""


def arg(value: object) -> str:
    """One argument: Code as is, everything else as a Python literal."""
    return str(value) if isinstance(value, Code) else py_literal(value)


def call(function: str, *args: object, **kwargs: object) -> Code:
    """`function(arg, ..., key=value, ...)`, dropping keyword arguments whose value is None."""
    parts = [arg(a) for a in args] + [f"{k}={arg(v)}" for k, v in kwargs.items() if v is not None]
    return Code(f"{function}({', '.join(parts)})")
