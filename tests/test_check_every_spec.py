"""Every bundled spec (at its full depth, small sizes) passes `alexgen check` over three optimizer steps across
learning-rate drops: SGD momentum, Adam's bias correction and batch-norm statistics all meet a changing rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from alexgen.check import run_check
from alexgen.validate import load_graph
from tests.conftest import SMALL, SPEC_DIR, small_variant

pytestmark = [pytest.mark.keras, pytest.mark.torch]
pytest.importorskip("torch")
pytest.importorskip("keras")

DROP = "{type: step, step_size: 1, factor: 0.1}"  # lr / 10 after every step


@pytest.mark.parametrize("name", sorted([*SMALL, "alexnet_mnist"]))
def test_three_steps_across_learning_rate_drops_pass(tmp_path: Path, name: str) -> None:
    path = SPEC_DIR / "alexnet_mnist.yaml" if name == "alexnet_mnist" else small_variant(tmp_path, name)
    # a spec without `training` trains with the defaults (SGD), to which the schedule is added
    has_training = load_graph(path, path.name).spec.training is not None
    drop = f"training.lr_schedule={DROP}" if has_training else f"training={{lr_schedule: {DROP}}}"
    graph = load_graph(path, path.name, sets=[drop])
    rows = run_check(graph, path.name, steps=3, sets=(drop,))
    failing = [f"{row.check}: {row.detail}" for row in rows if not row.passed]
    assert not failing, "\n".join(failing)
    rates = [row.detail for row in rows if row.check.endswith("learning rate")]
    assert len(rates) == 3 and len(set(rates)) == 3, rates  # three steps, each at its own rate
    for step in (1, 2, 3):
        assert any(row.check.startswith(f"step {step} ") and row.check.endswith("parameter updates") for row in rows)
