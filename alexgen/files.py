"""Files alexgen writes get the permissions any program's new files get: 0666 minus the user's umask."""

from __future__ import annotations

import os
from pathlib import Path


def umask() -> int:
    """The process's umask (read from /proc where possible: setting it to read it back races with threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def usual_mode() -> int:
    """The mode a file created with open() gets (0644 under the common umask 022)."""
    return 0o666 & ~umask()


def give_usual_permissions(path: str | Path) -> None:
    """chmod a file that was created 0600 (mkstemp, safetensors) to the mode open() would have given it."""
    os.chmod(path, usual_mode())
