"""Untrusted text made safe to show: in a terminal, a comment or a docstring, one visible character at a time."""

from __future__ import annotations


def _escape(char: str) -> str:
    """`\\n`, `\\x1b`, `\\u202e`: the escape Python's repr() would use, without the quotes."""
    return repr(char)[1:-1]


def printable(text: str, keep: str = "") -> str:
    """`text` with every non-printable character (controls, line and paragraph separators, bidi overrides, lone
    surrogates, unassigned code points) replaced by its backslash escape; characters in `keep` stay as they are.

    Printable text, repr() output included, comes back unchanged, so escaping twice changes nothing.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else _escape(c) for c in text)
