"""`alexgen import`: arguments in, a validated spec file out (nothing written on error)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.importers.draft import Origin
from alexgen.importers.emit import HEADER_MARK
from alexgen.textsafe import printable

if TYPE_CHECKING:
    from alexgen.importers import Imported
    from alexgen.weights import Array

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


@dataclass(frozen=True)
class WeightOptions:
    """--weights, --source-weights, --verify and --tolerance."""

    weights: str | None = None
    source_weights: str | None = None
    verify: bool = False
    tolerance: float = 1e-5


def run(source: str, output: str, fmt: str, input_shape: str | None, name: str | None, force: bool,
        options: WeightOptions = WeightOptions()) -> int:
    """Import SOURCE into OUTPUT (and its weights, verified when asked); print diagnostics; the exit code."""
    from alexgen.cli import report_problems
    from alexgen.importers import import_source

    try:
        shape = parse_shape(input_shape)
    except ValueError:
        report_problems([Origin("--input-shape").problem(f"expected H,W,C (three positive integers), got "
                                                         f"{input_shape!r}", "e.g. --input-shape 227,227,3")],
                        writes=True)
        return EXIT_INVALID
    problem = refuse_overwrite(Path(output), force) or refuse_options(options)
    if problem is not None:
        report_problems([problem], writes=True)
        return EXIT_INVALID
    try:
        imported = import_source(source, fmt, shape, name, display=output)
    except SpecError as exc:
        report_problems(exc.diagnostics, writes=True)
        return EXIT_INVALID
    report_problems(imported.warnings)
    tensors = None
    if options.weights or options.verify:
        tensors = weights_of(imported, options, output)
        if tensors is None:
            return EXIT_INVALID
    write_atomically(Path(output), imported.text)
    graph = imported.graph
    import click

    click.echo(f"wrote {output}: {graph.name}, {len(graph.nodes)} layers, {graph.total_params:,} parameters", err=True)
    if options.weights and tensors is not None:
        write_weights_atomically(Path(options.weights), tensors, graph)
        click.echo(f"wrote {options.weights}: {len(tensors)} tensors of {graph.name} (neutral safetensors)", err=True)
    return EXIT_OK


def refuse_options(options: WeightOptions) -> Diagnostic | None:
    """--source-weights only with --weights or --verify; --weights must be a .safetensors file."""
    if options.weights and not options.weights.endswith(".safetensors"):
        return Origin("--weights").problem(f"the neutral weights file ends in .safetensors, got {options.weights!r}",
                                           "e.g. --weights imported.safetensors")
    if options.source_weights and not (options.weights or options.verify):
        return Origin("--source-weights").problem("the source's weights are read only for --weights or --verify")
    return None


def weights_of(imported: Imported, options: WeightOptions, output: str) -> dict[str, Array] | None:
    """The source's neutral tensors, verified when asked; None (reported) when they cannot be read or do not
    verify."""
    import click

    from alexgen.importers.source_weights import source_tensors
    from alexgen.weights import WeightsError

    if options.verify and imported.fmt not in ("keras", "pytorch"):
        click.echo(f"alexgen: error: --verify runs the original model, which needs its framework: Keras or PyTorch "
                   f"sources only (this is a {imported.fmt} source); nothing was written.", err=True)
        return None
    try:
        tensors = source_tensors(imported, Path(options.source_weights) if options.source_weights else None)
    except WeightsError as exc:
        click.echo(f"alexgen: error: {printable(str(exc))}; nothing was written.", err=True)
        return None
    if options.verify:
        from alexgen.importers.verify import report_lines, verify

        result = verify(imported, tensors, output, options.tolerance)
        click.echo("\n".join(report_lines(result)))
        if not result.passed:
            click.echo("alexgen: error: the import does not verify: the generated code computes something else than "
                       "the original model; nothing was written.", err=True)
            return None
    return tensors


def write_weights_atomically(path: Path, tensors: dict[str, Array], graph: Any) -> None:
    """The neutral file, written through a temporary file in the same folder."""
    from alexgen.weights import write_neutral

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".safetensors", dir=path.parent)
    os.close(handle)
    try:
        write_neutral(Path(temporary), tensors, graph)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
