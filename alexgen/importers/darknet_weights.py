"""Darknet `.weights` files: a header, then every weighted layer's float32 values in the cfg's order.

Layout (darknet's src/parser.c, save_weights / load_weights): int32 major, minor, revision; the number of images
seen, a uint64 when major * 10 + minor >= 2 (else a uint32); then per [convolutional] its biases (filters) and its
weights (filters x channels/groups x size x size), per [connected] its biases (outputs) and weights (outputs x
inputs), all little-endian float32. Batch-normalized layers would add scales and rolling statistics; the importer
refuses them. Darknet's layouts are PyTorch's (maps are C, H, W), so the values become the neutral layout through
the same conversion as a PyTorch state_dict.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from alexgen import weights as w
from alexgen.weights import WeightsError

if TYPE_CHECKING:
    from alexgen.importers import Imported
    from alexgen.weights import Array

HEADER = 12  # major, minor, revision


def read_header(data: bytes, path: Path) -> int:
    """The offset of the first value after the header."""
    import struct

    if len(data) < HEADER + 4:
        raise WeightsError(f"{path}: too short for a Darknet .weights file ({len(data)} bytes)")
    major, minor, _ = struct.unpack("<3i", data[:HEADER])
    wide = major * 10 + minor >= 2 and major < 1000 and minor < 1000
    return HEADER + (8 if wide else 4)


def read_darknet_weights(imported: Imported, path: Path) -> dict[str, Array]:
    """The neutral tensors of a Darknet import from its .weights file; every value must be used exactly."""
    import numpy as np

    graph = imported.graph
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read ({exc.strerror})") from None
    offset = read_header(data, path)
    if (len(data) - offset) % 4:
        raise WeightsError(f"{path}: {len(data) - offset} bytes after the header are not whole float32 values")
    values = np.frombuffer(data, dtype="<f4", offset=offset)
    needed = sum(math.prod(slot.shape) for node in graph.weighted for slot in node.slots)
    if len(values) != needed:
        raise WeightsError(f"{path}: holds {len(values):,} values after its header; the cfg's layers need "
                           f"{needed:,}: not the weights of this cfg")
    state: dict[str, Array] = {}
    position = 0
    for node in graph.weighted:
        by_name = {slot.name: slot for slot in node.slots}
        for name in ("bias", "kernel"):  # darknet writes the biases first
            slot = by_name[name]
            size = math.prod(slot.torch_shape)
            state[f"{node.name}.{slot.torch}"] = values[position:position + size].reshape(slot.torch_shape)
            position += size
    return w.torch_state_to_neutral(graph, state, {node.name: node.name for node in graph.weighted})
