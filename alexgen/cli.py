"""Command line: arguments, printing and exit codes only."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from alexgen import __version__
from alexgen.diagnostics import Diagnostic, SpecError

EXIT_INVALID = 2


def report_problems(problems: list[Diagnostic]) -> None:
    """Print diagnostics to stderr, errors and warnings alike, with a count."""
    for problem in problems:
        click.echo(problem.format(), err=True)
    errors = sum(1 for p in problems if p.level == "error")
    if errors:
        click.echo(f"{errors} error{'s' * (errors != 1)} found; nothing was written.", err=True)


def load_or_exit(spec: str | None) -> "Graph":  # noqa: F821
    """The analysed graph of SPEC (the bundled AlexNet when None), exiting 2 on invalid input."""
    from alexgen.resources import bundled_spec
    from alexgen.validate import load_graph

    path = Path(spec) if spec else bundled_spec()
    display = spec if spec else "spec/alexnet.yaml"
    try:
        graph = load_graph(path, display)
    except SpecError as exc:
        report_problems(exc.diagnostics)
        sys.exit(EXIT_INVALID)
    report_problems(graph.warnings)
    return graph


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="alexgen")
def cli() -> None:
    """Compile a declarative AlexNet-family spec into Keras 3 and PyTorch source."""


@cli.command()
@click.argument("spec", required=False, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True, help="Output format.")
def analyze(spec: str | None, fmt: str) -> None:
    """Shapes, parameters, MACs, memory and receptive field per layer (default: the bundled AlexNet)."""
    from alexgen import report

    graph = load_or_exit(spec)
    if fmt == "json":
        click.echo(report.to_json(graph), nl=False)
    elif fmt == "markdown":
        click.echo(report.to_markdown(graph), nl=False)
    else:
        report.print_table(graph)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for editors and CI)."""
    from alexgen.schema import schema_json

    click.echo(schema_json(), nl=False)


def main() -> None:
    """Entry point: never show a traceback for a problem in the input."""
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
