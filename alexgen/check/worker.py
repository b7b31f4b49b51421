"""Run the Keras reference in its own process, on the Keras backend named by KERAS_BACKEND.

`python -m alexgen.check.worker JOB.json` writes one folder of `.npy` files per phase into the job's folder
(forward-float32, forward-float64, step-1 ... step-N), one file per array, written as each array is made. The
parent reads them one array at a time (StoredRecords), so neither process holds both frameworks nor a second
copy of the model: a safetensors file is serialized whole in memory before it is written, and read through a
memory map whose pages count against the reader's memory until it is closed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alexgen.check.common import Array

BACKENDS = ("tensorflow", "jax", "torch")


class StoredRecords(Mapping[str, "Array"]):
    """A folder of records, one `.npy` file per key (`grad/conv1.kernel` -> `grad/conv1.kernel.npy`), read when
    asked (a fresh array each time, nothing kept)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._keys = sorted(path.relative_to(folder).as_posix()[: -len(".npy")] for path in folder.rglob("*.npy"))

    def __getitem__(self, key: str) -> Array:
        if key not in self._keys:
            raise KeyError(key)
        import numpy as np

        value: Array = np.load(self._folder / f"{key}.npy", allow_pickle=False)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def save(folder: Path, records: Mapping[str, Array] | Iterable[tuple[str, Array]]) -> None:
    """Write records, one `.npy` file per key, each as soon as it is made (an iterable of pairs is consumed
    lazily; the key names a path inside `folder`)."""
    import numpy as np

    for key, value in records.items() if isinstance(records, Mapping) else records:
        path = folder / f"{key}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, value, allow_pickle=False)
        del value


def run_worker(job: dict[str, Any]) -> None:
    """Compute every reference record of a job and write them, phase by phase."""
    import gc

    import keras

    from alexgen.check import keras_side
    from alexgen.check.common import inputs, random_weights, targets
    from alexgen.validate import load_graph

    folder = Path(job["folder"])
    graph = load_graph(job["spec"], job["display"], sets=job["sets"])
    module = keras_side.keras_module(graph, job["display"])
    tensors = random_weights(graph, job["seed"])
    x = inputs(graph, job["batch"], job["seed"])
    for dtype in ("float32", "float64"):
        save(folder / f"forward-{dtype}", keras_side.forward(graph, module, dtype, tensors, x))
        keras.backend.clear_session()  # Keras keeps the phase's models reachable otherwise (0.5 GB at 62M, float64)
        gc.collect()
    y = targets(graph, job["batch"], job["seed"])
    if y is not None and job["steps"]:
        steps = keras_side.steps(graph, module, tensors, x, y, job["steps"])
        del tensors  # the steps hold them until their model is loaded, then free them
        for step, records in enumerate(steps, start=1):
            save(folder / f"step-{step}", records)
    (folder / "versions.json").write_text(json.dumps(keras_versions()), encoding="utf-8")


def keras_versions() -> dict[str, str]:
    """Keras, its backend and the backend's version."""
    import keras

    backend = keras.backend.backend()
    module = __import__({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend))
    return {"keras": keras.__version__, "keras_backend": backend, backend: getattr(module, "__version__", "?")}


def spawn(job: dict[str, Any], backend: str) -> None:
    """Run a job in a fresh interpreter with KERAS_BACKEND set; raise with its last error lines on failure."""
    folder = Path(job["folder"])
    (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_ENABLE_X64": "1"}  # float64
    result = subprocess.run(
        [sys.executable, "-m", "alexgen.check.worker", str(folder / "job.json")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"the Keras reference on the {backend} backend failed:\n{tail}")


def without_jax() -> None:
    """On the TensorFlow backend, keep JAX out of the worker: TensorFlow imports it when it is installed
    (tensorflow.lite's optional `from jax import jit`), 0.11 GiB of resident memory and ~0.5 s, measured."""
    if os.environ.get("KERAS_BACKEND") == "tensorflow":
        sys.modules.setdefault("jax", None)  # type: ignore[arg-type]  # `import jax` then raises ImportError


def main() -> None:
    """Entry point of the worker process."""
    from alexgen.quiet import quiet_framework_startup

    quiet_framework_startup()
    without_jax()
    run_worker(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))


if __name__ == "__main__":
    main()
