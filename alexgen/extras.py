"""Commands that need the optional frameworks say which extra to install, instead of failing on an import."""

from __future__ import annotations

import importlib.util
import os

# Each optional module and the smallest extra that installs it.
PROVIDED_BY = {
    "numpy": "all",
    "safetensors": "all",
    "torch": "pytorch",
    "keras": "keras",
    "tensorflow": "keras",
    "h5py": "keras",
}


class MissingExtra(Exception):
    """An optional framework or library a command needs is not installed."""

    def __init__(self, command: str, missing: list[str]) -> None:
        self.command = command
        self.missing = missing
        verb = "is" if len(missing) == 1 else "are"
        super().__init__(f"`alexgen {command}` needs {', '.join(missing)}, which {verb} not installed")

    @property
    def hint(self) -> str:
        """The install command that fixes it."""
        extras = {PROVIDED_BY[name] for name in self.missing if name in PROVIDED_BY}
        extra = extras.pop() if len(extras) == 1 else "all"
        others = [name for name in self.missing if name not in PROVIDED_BY]  # e.g. jax, a Keras backend of choice
        text = f'pip install "alexgen[{extra}]" (in a clone of the repository: pip install ".[{extra}]")'
        return text + "".join(f"; pip install {name}" for name in others)


def keras_backend() -> str:
    """The module Keras will run on (KERAS_BACKEND, TensorFlow by default)."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def needed(frameworks: set[str]) -> list[str]:
    """The modules behind `frameworks` ("keras", "pytorch"), numpy and safetensors included."""
    modules = ["numpy", "safetensors"]
    if "pytorch" in frameworks:
        modules.append("torch")
    if "keras" in frameworks:
        modules += ["keras", keras_backend(), "h5py"]
    return list(dict.fromkeys(modules))


def installed(module: str) -> bool:
    """Whether a top-level module can be found (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(command: str, frameworks: set[str]) -> None:
    """Raise MissingExtra naming every module `command` needs that cannot be imported (nothing is imported)."""
    missing = [name for name in needed(frameworks) if not installed(name)]
    if missing:
        raise MissingExtra(command, missing)
