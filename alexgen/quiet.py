"""Keep TensorFlow's start-up chatter (absl, oneDNN, cpu_feature_guard) off the user's terminal."""

from __future__ import annotations

import os

# Read by TensorFlow when it is first imported, so they are set before that and only when the user has not chosen.
QUIET_DEFAULTS = {
    # 1 hides INFO lines (cpu_feature_guard, "oneDNN custom operations are on"); warnings and errors still show.
    "TF_CPP_MIN_LOG_LEVEL": "1",
    # oneDNN's custom ops announce themselves even at level 2, and log "Not handling type DT_DOUBLE" warnings for
    # every float64 graph (alexgen's training check). Off, the same ops run TensorFlow's own kernels: results
    # differ only in rounding, and AlexNet's forward pass took the same time (0.21 s vs 0.20 s for 8 images).
    "TF_ENABLE_ONEDNN_OPTS": "0",
}


USER_CHOSEN = {name for name in QUIET_DEFAULTS if name in os.environ}  # what the user set before alexgen ran


def quiet_framework_startup() -> None:
    """Set the quiet defaults in os.environ, keeping every value the user has set."""
    for name, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(name, value)


def quiet_training_warnings() -> None:
    """Also hide TensorFlow's C++ warnings (unless the user chose a level): when a tf.data worker fails, the
    kernel logs the Python traceback as a warning, and alexgen reports the error itself in one line."""
    if "TF_CPP_MIN_LOG_LEVEL" not in USER_CHOSEN:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
