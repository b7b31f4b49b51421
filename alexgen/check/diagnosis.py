"""A diagnosis for a diverging layer: try its op's known alternative conventions and name the one that agrees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alexgen.check.common import errors

if TYPE_CHECKING:
    from alexgen.check.common import Array
    from alexgen.check.torch_side import LayerRun


def diagnose(run: LayerRun, expected: Array, rel_err: float, limit: float) -> str:
    """ "<layer> differs (rel x); <condition> it agrees to y: <cause>", or what was tried without success."""
    name = run.node.name
    hook = run.node.op.diagnose
    head = f"{name} differs (rel {rel_err:.2g})"
    if hook is None:
        return f"{head}; no alternative conventions known for {run.node.type}"
    tried = []
    for alternative in hook(run):
        try:
            got = alternative.compute()
        except Exception as exc:  # an alternative that cannot even run is not the answer
            tried.append(f"{alternative.condition} (fails: {type(exc).__name__})")
            continue
        if got.shape != expected.shape:
            tried.append(f"{alternative.condition} (shape {got.shape})")
            continue
        _, rel = errors(expected, got)
        if rel <= limit:
            return f"{head}; {alternative.condition} it agrees to {rel:.0e}: {alternative.cause}"
        tried.append(f"{alternative.condition} (rel {rel:.2g})")
    return f"{head}; no known convention explains it (tried: {'; '.join(tried) or 'nothing'})"
