"""Training runs: the run folder (config, metrics, curves, summary), progress bars and experiment trackers.

Nothing here imports torch, tensorflow or matplotlib at import time.
"""

from alexgen.runs.folder import RunError, RunFolder, spec_hash, versions
from alexgen.runs.progress import EpochProgress
from alexgen.runs.trackers import TRACKERS, Tracker, TrackerError, check_tracker, make_tracker

__all__ = [
    "TRACKERS",
    "EpochProgress",
    "RunError",
    "RunFolder",
    "Tracker",
    "TrackerError",
    "check_tracker",
    "make_tracker",
    "spec_hash",
    "versions",
]
