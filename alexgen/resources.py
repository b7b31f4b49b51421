"""Where bundled templates and specs live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def data_dir(name: str) -> Path:
    """`templates` or `spec`: inside the wheel (`alexgen/_data/<name>`) or beside the package in a checkout."""
    installed = PACKAGE_DIR / "_data" / name
    return installed if installed.is_dir() else REPO_DIR / name


def bundled_spec(name: str = "alexnet") -> Path:
    """Path of a spec shipped with alexgen."""
    return data_dir("spec") / f"{name}.yaml"


def spec_files(folder: Path) -> list[Path]:
    """Every spec file in a folder, sorted (YAML and JSON; JSON Schema files excluded)."""
    found = [p for p in folder.iterdir() if p.suffix in {".yaml", ".yml", ".json"} and ".schema." not in p.name]
    return sorted(found)
