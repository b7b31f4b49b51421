"""Loading `.keras` files of generated models: name the generated class a file needs when it is not registered."""

from __future__ import annotations

import importlib
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from alexgen.loading import load_generated

PACKAGE = "alexgen"
# `alexgen.<spec name>>Class` (one package per generated module), or `alexgen>Class` (files from before that)
REGISTERED = re.compile(r"alexgen(?:\.(?P<spec>[A-Za-z_][A-Za-z0-9_]*))?>(?P<cls>[A-Za-z_][A-Za-z0-9_]*)")


class KerasLoadError(Exception):
    """A `.keras` file that cannot be loaded, with the reason in words."""


def package_of(spec_name: str) -> str:
    """The Keras package a generated module registers its classes under: one per module, so none replaces another's."""
    return f"{PACKAGE}.{spec_name}"


def generated_class(registered_name: str) -> str | None:
    """The class name in a registered name alexgen generated (`alexgen.alexnet>GELU` -> `GELU`), else None."""
    match = REGISTERED.fullmatch(registered_name)
    return match["cls"] if match else None


def _registered_names(config: Any) -> Iterator[str]:
    """Every `registered_name` in a Keras config tree."""
    if isinstance(config, dict):
        name = config.get("registered_name")
        if isinstance(name, str):
            yield name
        for value in config.values():
            yield from _registered_names(value)
    elif isinstance(config, list):
        for value in config:
            yield from _registered_names(value)


def needed_classes(path: str | Path, compile: bool = True) -> list[str]:
    """The registered names of the generated classes a `.keras` file needs, in first-use order (without the
    optimizer's and loss's unless `compile`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise KerasLoadError(f"{path}: not a readable .keras file ({type(exc).__name__}: {exc})") from None
    if not compile and isinstance(config, dict):
        config = {key: value for key, value in config.items() if key != "compile_config"}
    return list(dict.fromkeys(name for name in _registered_names(config) if generated_class(name)))


def import_module(module: str | Path | ModuleType) -> ModuleType:
    """A generated module: as given, imported by dotted name, or executed from a `.py` file."""
    if isinstance(module, ModuleType):
        return module
    if str(module).endswith(".py"):
        path = Path(module)
        if not path.is_file():
            raise KerasLoadError(f"{path}: no such generated module")
        return load_generated(path, f"alexgen_loaded_{path.stem}")
    try:
        return importlib.import_module(str(module))
    except ImportError as exc:
        raise KerasLoadError(f"cannot import the generated module {str(module)!r}: {exc}") from None


def missing_message(path: str | Path, missing: list[str]) -> str:
    """Which needed classes are missing and which generated module defines each (grouped by spec)."""
    by_spec: dict[str | None, list[str]] = {}
    for registered in missing:
        match = REGISTERED.fullmatch(registered)
        by_spec.setdefault(match["spec"] if match else None, []).append(registered)
    parts = []
    for spec, names in by_spec.items():
        classes = ", ".join(f"'{generated_class(name)}' (registered as '{name}')" for name in names)
        if spec is None:
            parts.append(
                f"{classes}, saved by a generated module from before alexgen registered each module's "
                "classes under its own package: pass the generated module that defines them as `module=`"
            )
        else:
            parts.append(
                f"{classes}, which alexgen generates into the Keras module of spec '{spec}' and no imported "
                f"module registers: import that module first (by default `import generated.keras.{spec}`, "
                f"file generated/keras/{spec}.py) or pass it as `module=`"
            )
    return f"{path} needs the class{'es' if len(missing) > 1 else ''} " + "; and ".join(parts)


def legacy_class(module: ModuleType | None, registered: str) -> Any:
    """For an `alexgen>Class` name (files saved before one package per module): the class in `module`, if any."""
    match = REGISTERED.fullmatch(registered)
    if module is None or match is None or match["spec"] is not None:
        return None
    return getattr(module, match["cls"], None)


def unregistered(path: str | Path, compile: bool = True) -> list[str]:
    """The generated classes a `.keras` file needs that no imported module has registered."""
    import keras

    return [name for name in needed_classes(path, compile) if keras.saving.get_registered_object(name) is None]


def load_keras_model(
    path: str | Path,
    module: str | Path | ModuleType | None = None,
    *,
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,
    **kwargs: Any,
) -> Any:
    """keras.saving.load_model, after checking every generated class the file needs is registered (or given).

    `module` is the generated Keras module (object, dotted name or .py file), imported first. A class still missing
    raises KerasLoadError naming it and its module, instead of Keras's "could not be deserialized".
    """
    import keras

    loaded = import_module(module) if module is not None else None
    objects = dict(custom_objects or {})
    missing = []
    for registered in unregistered(path, compile):
        found = objects.get(registered) or legacy_class(loaded, registered)
        if found is None:
            missing.append(registered)
        else:
            objects[registered] = found
    if missing:
        raise KerasLoadError(missing_message(path, missing))
    return keras.saving.load_model(path, custom_objects=objects or None, compile=compile, **kwargs)
