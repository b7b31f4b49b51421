"""`alexgen import`: arguments in, a validated spec file out (nothing written on error)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.importers.emit import HEADER_MARK, Origin

EXIT_OK, EXIT_INVALID = 0, 2


def parse_shape(text: str | None) -> tuple[int, int, int] | None:
    """`227,227,3` -> (227, 227, 3); ValueError when it is not three positive integers."""
    if text is None:
        return None
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    if len(parts) != 3 or not all(p.isdigit() and 0 < int(p) <= 1_000_000 for p in parts):
        raise ValueError(text)
    return int(parts[0]), int(parts[1]), int(parts[2])


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, so a failure leaves the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def refuse_overwrite(output: Path, force: bool) -> Diagnostic | None:
    """An existing file not written by `alexgen import` is kept unless --force."""
    if force or not output.exists():
        return None
    try:
        first = output.read_text(encoding="utf-8").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError):
        first = ""
    if first.startswith(HEADER_MARK):
        return None
    return Origin(str(output)).problem("the output file exists and was not written by `alexgen import`",
                                       "pass --force to overwrite it, or choose another -o")


def run(source: str, output: str, fmt: str, input_shape: str | None, name: str | None, force: bool) -> int:
    """Import SOURCE into OUTPUT; print diagnostics; the exit code."""
    from alexgen.cli import report_problems
    from alexgen.importers import import_source

    try:
        shape = parse_shape(input_shape)
    except ValueError:
        report_problems([Origin("--input-shape").problem(f"expected H,W,C (three positive integers), got "
                                                         f"{input_shape!r}", "e.g. --input-shape 227,227,3")],
                        writes=True)
        return EXIT_INVALID
    problem = refuse_overwrite(Path(output), force)
    if problem is not None:
        report_problems([problem], writes=True)
        return EXIT_INVALID
    try:
        imported = import_source(source, fmt, shape, name, display=output)
    except SpecError as exc:
        report_problems(exc.diagnostics, writes=True)
        return EXIT_INVALID
    report_problems(imported.warnings)
    # The later `--weights` / `--verify` steps go here: they need `imported.graph` and the source model.
    write_atomically(Path(output), imported.text)
    graph = imported.graph
    import click

    click.echo(f"wrote {output}: {graph.name}, {len(graph.nodes)} layers, {graph.total_params:,} parameters", err=True)
    return EXIT_OK
