"""Training data: `--data` sources as numpy splits, the paper's augmentation, PyTorch and tf.data adapters.

Nothing here imports torch or tensorflow at import time; the adapters import their framework when called.
"""

from alexgen.data.augment import Transform, transforms
from alexgen.data.base import ArraySplit, Data, DataError, FileSplit, Split, epoch_order, unwrap_data_error
from alexgen.data.sources import load_data, parse_source

__all__ = [
    "ArraySplit",
    "Data",
    "DataError",
    "FileSplit",
    "Split",
    "Transform",
    "epoch_order",
    "load_data",
    "parse_source",
    "transforms",
    "unwrap_data_error",
]
