"""Prove that the Keras and PyTorch renderings of a spec are the same network and the same training steps.

Modules: common (rows, errors, bounds, seeded data), keras_side (the reference, any backend), worker (that
reference in its own process), torch_side, forward (per-layer rows), diagnosis, training, training_diagnosis,
run, report.
"""

from alexgen.check.common import TOLERANCE, Row, errors, floatx, random_weights
from alexgen.check.pair import Pair, compare_layers
from alexgen.check.report import print_rows, rows_json, write_report
from alexgen.check.run import Options, run_check

__all__ = [
    "TOLERANCE",
    "Options",
    "Pair",
    "Row",
    "compare_layers",
    "errors",
    "floatx",
    "print_rows",
    "random_weights",
    "rows_json",
    "run_check",
    "write_report",
]
