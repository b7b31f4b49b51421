"""A content-addressed cache of `analyze` results: a repeat analyze of an unchanged spec skips validation.

Only valid specs are cached (an invalid one is validated every time, so its diagnostics are always pydantic's).
The key hashes everything the result depends on: the spec file's bytes and real path, the name it is shown as,
the --set values, the budget, alexgen's code (version plus each module's size and mtime) and the validating
libraries' versions. The entry also lists every base the spec extends with the sha256 of its bytes, checked on
each hit. An entry is written atomically; one that cannot be read, does not parse or does not match its key
is ignored (and replaced by the next miss). ALEXGEN_NO_CACHE=1 or `analyze --no-cache` turn the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alexgen import __version__
from alexgen.budget import Budget
from alexgen.diagnostics import Diagnostic
from alexgen.facts import BadFacts, Facts, diagnostic_from_plain, diagnostic_to_plain, facts_of, from_plain, to_plain

if TYPE_CHECKING:
    from alexgen.graph import Graph

FORMAT = 1  # bump when an entry's layout changes
MAX_ENTRIES = 500  # the least recently used beyond this are deleted when an entry is written (~4 KiB each)
ENV_OFF = "ALEXGEN_NO_CACHE"
PACKAGE = Path(__file__).resolve().parent
LIBRARIES = ("pydantic", "pydantic_core", "yaml")  # their installed files take part in the key


@dataclass(frozen=True)
class Hit:
    """A cached result: the figures and the warnings printed with them."""

    facts: Facts
    warnings: list[Diagnostic]


def cache_dir() -> Path | None:
    """$XDG_CACHE_HOME/alexgen or ~/.cache/alexgen; None when the cache is turned off."""
    if os.environ.get(ENV_OFF, "") not in ("", "0"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "alexgen" / "analyze"


def _stats(folder: str, found: list[str]) -> None:
    """Relative path, size and mtime of every module under `folder` (recursively)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                _stats(entry.path, found)
            elif entry.name.endswith(".py"):
                info = entry.stat()
                found.append(f"{entry.path}:{info.st_size}:{info.st_mtime_ns}")


def code_fingerprint() -> str:
    """alexgen's version and modules, the validating libraries' files and Python's version, as one string."""
    found = [__version__, sys.version]
    _stats(str(PACKAGE), found)
    for name in LIBRARIES:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module else _origin(name)
        if origin:
            info = os.stat(origin)
            found.append(f"{origin}:{info.st_size}:{info.st_mtime_ns}")
    return "\n".join(sorted(found))


def _origin(name: str) -> str | None:
    """The __init__ file of an installed top-level package, found without importing it."""
    for entry in sys.path:
        candidate = os.path.join(entry or ".", name, "__init__.py")
        if os.path.isfile(candidate):
            return candidate
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Ticket:
    """Where a result is cached: the entry's key and the sha256 of the spec's bytes it was computed from."""

    key: str
    sha256: str


def ticket(path: Path, display: str, sets: tuple[str, ...], budget: Budget) -> Ticket:
    """The entry for a spec: a sha256 of everything the result depends on but the bases (checked on each hit)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError("not a regular file")  # a pipe (/dev/stdin) can be read only once, by the loader
    own = _sha256(path)
    parts = [
        f"format {FORMAT}",
        code_fingerprint(),
        str(path.resolve()),
        own,
        display,
        json.dumps(list(sets)),
        f"{budget.max_params} {budget.max_activation_bytes}",
    ]
    return Ticket(hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest(), own)


def lookup(path: Path, display: str, sets: tuple[str, ...], budget: Budget) -> tuple[Ticket | None, Hit | None]:
    """(ticket, the cached result or None); no ticket when the cache is off or the spec cannot be read."""
    folder = cache_dir()
    if folder is None:
        return None, None
    try:
        found = ticket(path, display, sets, budget)
    except (OSError, ValueError):
        return None, None  # not a readable regular file: the loader reads or reports it
    try:
        file = folder / f"{found.key}.json"
        hit = _hit(json.loads(file.read_text(encoding="utf-8")), found.key)
        if hit is not None:
            with contextlib.suppress(OSError):
                os.utime(file)  # recently used: kept when the cache is pruned
        return found, hit
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return found, None


def _hit(entry: Any, key: str) -> Hit | None:
    """The result in an entry when it is whole and every base it lists is unchanged."""
    if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != FORMAT:
        return None
    bases = entry["bases"]
    if not isinstance(bases, list):
        return None
    for base in bases:
        if not (isinstance(base, list) and len(base) == 2 and all(isinstance(x, str) for x in base)):
            return None
        if _sha256(Path(base[0])) != base[1]:
            return None
    warnings = entry["warnings"]
    if not isinstance(warnings, list):
        raise BadFacts("expected a list of warnings")
    return Hit(from_plain(entry["facts"]), [diagnostic_from_plain(w) for w in warnings])


def store(found: Ticket | None, graph: Graph) -> None:
    """Keep a valid graph's result (no-op without a ticket, or when the spec changed while it was read); any
    problem writing it is ignored."""
    folder = cache_dir()
    if found is None or folder is None or graph.origin is None:
        return
    resolved = graph.origin.resolved
    if not resolved.files or resolved.files[0].sha256 != found.sha256:
        return
    key = found.key
    pairs = zip(resolved.real_paths[1:], resolved.files[1:], strict=False)
    bases = [[str(path), file.sha256] for path, file in pairs if path is not None]
    entry = {
        "format": FORMAT,
        "key": key,
        "bases": bases,
        "facts": to_plain(facts_of(graph)),
        "warnings": [diagnostic_to_plain(w) for w in graph.warnings],
    }
    temporary = folder / f".{key}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(entry, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, folder / f"{key}.json")
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return
    with contextlib.suppress(OSError):
        prune(folder)


def prune(folder: Path, keep: int | None = None) -> None:
    """Delete all but the `keep` (default MAX_ENTRIES) most recently used entries."""
    with os.scandir(folder) as found:
        entries = [(entry.stat().st_mtime_ns, entry.path) for entry in found if entry.name.endswith(".json")]
    for _, path in sorted(entries, reverse=True)[MAX_ENTRIES if keep is None else keep :]:
        with contextlib.suppress(OSError):
            os.unlink(path)
