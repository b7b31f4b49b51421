"""The certificate: a rich table on the terminal, JSON, or Markdown a team can commit next to the model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from alexgen.check.common import LAMBDA, Row
from alexgen.check.run import Options
from alexgen.graph import Graph

BOUND_NOTE = (
    f"float64 rows pass within max(tolerance, bound); float32 rows within their rounding bound "
    f"{LAMBDA:g}·sqrt(fan-in)·eps·kappa + eps (docs/check.md)"
)


def _sci(value: float | None) -> str:
    return "" if value is None else f"{value:.2e}"


def certificate(graph: Graph, rows: list[Row], options: Options) -> dict[str, Any]:
    """Everything the check decided, as plain data."""
    return {
        "spec": graph.name,
        "spec_sha256": graph.sha256,
        "passed": all(r.passed for r in rows),
        "tolerance": options.tolerance,
        "batch": options.batch,
        "seed": options.seed,
        "steps": options.steps,
        "keras_backend": options.versions.get("keras_backend", options.keras_backend),
        "versions": options.versions,
        "bounds": BOUND_NOTE,
        "checks": [dataclasses.asdict(r) for r in rows],
    }


def rows_json(graph: Graph, rows: list[Row], options: Options) -> str:
    """The certificate as JSON."""
    return json.dumps(certificate(graph, rows, options), indent=2)


def rows_markdown(graph: Graph, rows: list[Row], options: Options) -> str:
    """The certificate as a Markdown document."""
    data = certificate(graph, rows, options)
    failed = sum(not r.passed for r in rows)
    lines = [
        f"# alexgen check: {graph.name}",
        "",
        f"**{'PASSED' if data['passed'] else 'FAILED'}**: {len(rows) - failed} rows passed, {failed} failed.",
        "",
        f"- spec sha256: `{graph.sha256}`",
        *(f"- {name}: {version}" for name, version in sorted(options.versions.items())),
        f"- batch {options.batch}, seed {options.seed}, {options.steps} training steps, "
        f"float64 tolerance {options.tolerance:g}",
        f"- {BOUND_NOTE}",
        "",
        "| check | result | max abs err | max rel err | bound | detail |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        detail = row.detail.replace("|", "\\|")
        lines.append(
            f"| {row.check} | {'pass' if row.passed else '**FAIL**'} | {_sci(row.max_abs)} | "
            f"{_sci(row.max_rel)} | {_sci(row.bound)} | {detail} |"
        )
    return "\n".join(lines) + "\n"


def write_report(path: Path, graph: Graph, rows: list[Row], options: Options) -> None:
    """Write the certificate; `.json` gives JSON, anything else Markdown."""
    text = rows_json(graph, rows, options) + "\n" if path.suffix == ".json" else rows_markdown(graph, rows, options)
    path.write_text(text, encoding="utf-8")


def print_rows(graph: Graph, rows: list[Row], options: Options) -> None:
    """The certificate as a rich table."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 130)
    table = Table(title=f"alexgen check {graph.name} (float64 tolerance {options.tolerance:g})")
    for column in ("check", "result", "max abs err", "max rel err", "bound", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for row in rows:
        table.add_row(
            row.check,
            "[green]pass[/]" if row.passed else "[red]FAIL[/]",
            _sci(row.max_abs),
            _sci(row.max_rel),
            _sci(row.bound),
            row.detail,
        )
    console.print(table)
    failed = sum(not r.passed for r in rows)
    console.print(f"{len(rows) - failed} passed, {failed} failed")
