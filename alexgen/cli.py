"""Command line: arguments, printing and exit codes only."""

from __future__ import annotations

import atexit
import dataclasses
import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from alexgen import __version__
from alexgen.budget import DEFAULT_BUDGET, MIB, Budget
from alexgen.diagnostics import Diagnostic, SpecError

if TYPE_CHECKING:
    from alexgen.facts import Facts
    from alexgen.graph import Graph
from alexgen.textsafe import printable

if TYPE_CHECKING:
    from alexgen.extras import MissingExtra

EXIT_INVALID = 2
MAX_SHOWN = 100  # diagnostics printed per run; the count covers them all


def shown(problem: Diagnostic) -> str:
    """A diagnostic as printed: spec text in it (names, keys, paths) cannot move the cursor, colour the terminal
    or reorder text (control characters and bidi overrides are printed as escapes)."""
    safe = dataclasses.replace(problem, message=printable(problem.message), file=printable(problem.file),
                               hint=problem.hint and printable(problem.hint),
                               layer=problem.layer and printable(problem.layer))
    return safe.format()


def report_problems(problems: list[Diagnostic], writes: bool = False) -> None:
    """Print diagnostics to stderr, errors and warnings alike (at most MAX_SHOWN), with a count (and, for a command
    that `writes` files, that it wrote none)."""
    for problem in problems[:MAX_SHOWN]:
        click.echo(shown(problem), err=True)
    if len(problems) > MAX_SHOWN:
        click.echo(f"... and {len(problems) - MAX_SHOWN} more not shown.", err=True)
    errors = sum(1 for p in problems if p.level == "error")
    if errors:
        outcome = "; nothing was written." if writes else "."
        click.echo(f"{errors} error{'s' * (errors != 1)} found{outcome}", err=True)


def require_or_exit(command: str, frameworks: set[str]) -> None:
    """Exit 2 with the extra to install when `command` needs a framework or library that is not installed."""
    from alexgen.extras import MissingExtra, require

    try:
        require(command, frameworks)
    except MissingExtra as exc:
        report_missing(exc)


def report_missing(exc: MissingExtra) -> NoReturn:
    """Print which optional package is missing and how to install it, then exit 2."""
    click.echo(f"alexgen: error: {exc}\n    hint: {exc.hint}", err=True)
    sys.exit(EXIT_INVALID)


def budget_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--max-params and --max-activation-mb: the analyzer refuses bigger networks before any framework runs."""
    command = click.option("--max-activation-mb", type=click.IntRange(min=1),
                           default=DEFAULT_BUDGET.max_activation_mib, show_default=True,
                           help="Largest activation memory for one example (fp32, input and every layer's "
                           "output), in MiB.")(command)
    return click.option("--max-params", type=click.IntRange(min=1), default=DEFAULT_BUDGET.max_params,
                        show_default=True, help="Largest parameter count.")(command)


def set_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--set KEY=VALUE (repeatable), for every command that reads a spec: a parameter or a field by path."""
    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                        help="Override a parameter (num_classes=10) or any field by path (layers.fc6.units=2048, "
                        "training.optimizer.learning_rate=0.001); VALUE is read as YAML. Repeatable.")(command)


def make_budget(max_params: int, max_activation_mb: int) -> Budget:
    """The analyzer's budget from the two options."""
    return Budget(max_params=max_params, max_activation_bytes=max_activation_mb * MIB)


def spec_display(spec: str | None) -> str:
    """SPEC as diagnostics and reports name it (the bundled AlexNet as in a checkout)."""
    return spec if spec else "spec/alexnet.yaml"


def load_or_exit(spec: str | None, budget: Budget = DEFAULT_BUDGET, sets: tuple[str, ...] = (),
                 writes: bool = False) -> Graph:
    """The analysed graph of SPEC (the bundled AlexNet when None), exiting 2 on invalid input."""
    from alexgen.resources import bundled_spec
    from alexgen.validate import load_graph

    path = Path(spec) if spec else bundled_spec()
    try:
        graph = load_graph(path, spec_display(spec), budget, sets)
    except SpecError as exc:
        report_problems(exc.diagnostics, writes)
        sys.exit(EXIT_INVALID)
    report_problems(graph.warnings)
    return graph


class _Group(click.Group):
    """A command group whose list wraps each command's first sentence instead of cutting it off."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The Commands section: every visible command with its whole first sentence."""
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        rows = [(name, command.get_short_help_str(limit=10_000)) for name, command in commands
                if command is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="alexgen")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Compile a declarative AlexNet-family spec into Keras 3 and PyTorch source."""
    if ctx.invoked_subcommand is None:  # `alexgen` alone: the help, which is what was asked for
        click.echo(ctx.get_help())


@cli.command()
@click.argument("spec", required=False, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True, help="Output format.")
@click.option("--no-cache", is_flag=True, help="Validate and analyse the spec even when an unchanged copy was "
              "analysed before (also: ALEXGEN_NO_CACHE=1). Results are cached in $XDG_CACHE_HOME/alexgen.")
@budget_options
@set_option
def analyze(spec: str | None, fmt: str, no_cache: bool, max_params: int, max_activation_mb: int,
            sets: tuple[str, ...]) -> None:
    """Shapes, parameters, MACs, memory and receptive field per layer (default: the bundled AlexNet)."""
    with collector_paused():
        _analyze(spec, fmt, no_cache, make_budget(max_params, max_activation_mb), sets)


def _analyze(spec: str | None, fmt: str, no_cache: bool, budget: Budget, sets: tuple[str, ...]) -> None:
    """analyze's work: the figures, printed in `fmt`."""
    from alexgen import report

    graph = analysed(spec, budget, sets, not no_cache)
    if fmt == "json":
        click.echo(report.to_json(graph), nl=False)
    elif fmt == "markdown":
        click.echo(report.to_markdown(graph), nl=False)
    else:
        report.print_table(graph)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run without the cyclic collector, and skip its passes over the heap at interpreter exit.

    Importing the spec models and validating make many objects but no garbage cycles worth collecting. Measured
    on a first `analyze` of the bundled spec (about 200 ms): the collector's passes while they run took 8 ms,
    and its passes over every object left at interpreter exit 17 ms. Afterwards the objects made meanwhile join
    the oldest generation unscanned (freeze, then unfreeze), as if they had survived the young collections;
    at exit they are frozen after the other exit handlers have run, and the interpreter shuts down as usual.
    """
    from alexgen.gcpause import without_gc_pauses

    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    with without_gc_pauses():
        yield


def analysed(spec: str | None, budget: Budget, sets: tuple[str, ...], cached: bool) -> Graph | Facts:
    """What `analyze` reports about SPEC: from the analyze cache when an unchanged spec was analysed before
    (the warnings it had printed again), else validated and analysed (and cached when valid)."""
    from alexgen import analyze_cache
    from alexgen.resources import bundled_spec

    path = Path(spec) if spec else bundled_spec()
    ticket, hit = analyze_cache.lookup(path, spec_display(spec), sets, budget) if cached else (None, None)
    if hit is not None:
        report_problems(hit.warnings)
        return hit.facts
    graph = load_or_exit(spec, budget, sets)
    analyze_cache.store(ticket, graph)
    return graph


def load_all_or_exit(specs: tuple[str, ...], budget: Budget = DEFAULT_BUDGET, sets: tuple[str, ...] = (),
                     own_sets: tuple[tuple[str, ...], ...] = ()) -> list[tuple[Graph, str]]:
    """Analysed graphs of every SPEC (default: every spec in ./spec, else the bundled ones), or exit 2.

    `sets` apply to every spec; `own_sets[i]`, where given, to the i-th spec only, after `sets`."""
    from alexgen.resources import data_dir, spec_files
    from alexgen.validate import load_graph

    if specs:
        pairs = [(Path(p), Path(p).as_posix()) for p in specs]
    else:
        folder = Path("spec") if Path("spec").is_dir() else data_dir("spec")
        pairs = [(p, f"spec/{p.name}") for p in spec_files(folder)]
    graphs, problems = [], []
    for index, (path, display) in enumerate(pairs):
        overrides = sets + (own_sets[index] if index < len(own_sets) else ())
        try:
            graphs.append((load_graph(path, display, budget, overrides), display))
        except SpecError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        report_problems(problems, writes=True)
        sys.exit(EXIT_INVALID)
    for graph, _ in graphs:
        report_problems(graph.warnings)
    return graphs


@cli.command()
@click.argument("specs", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--target", type=click.Choice(["keras", "pytorch", "all"]), default="all", show_default=True,
              help="Which framework's modules to write.")
@click.option("--out", "out_dir", type=click.Path(), default="generated", show_default=True,
              help="Output folder (gets keras/ and pytorch/ packages).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when a generated file is stale.")
@click.option("--templates", "templates_dir", type=click.Path(file_okay=False, exists=True),
              help="Folder of template overrides, searched before alexgen's own (same relative names).")
@click.option("--force", is_flag=True, help="Overwrite files that do not carry alexgen's header, or whose content was "
              "edited since alexgen wrote them.")
@budget_options
@set_option
def render(specs: tuple[str, ...], target: str, out_dir: str, check: bool, templates_dir: str | None,
           force: bool, max_params: int, max_activation_mb: int, sets: tuple[str, ...]) -> None:
    """Render SPECs (default: every spec in spec/) into Keras 3 and/or PyTorch modules."""
    from alexgen.render import TARGETS, RenderError, render_outputs, stale, write_outputs

    graphs = load_all_or_exit(specs, make_budget(max_params, max_activation_mb), sets)
    targets = list(TARGETS) if target == "all" else [target]
    try:
        outputs = render_outputs(graphs, targets, Path(templates_dir) if templates_dir else None)
        if check:
            diffs = stale(outputs, Path(out_dir))
            for diff in diffs:
                click.echo(diff)
            click.echo(f"{len(diffs)} of {len(outputs)} generated files are stale." if diffs
                       else f"all {len(outputs)} generated files are up to date.", err=True)
            sys.exit(1 if diffs else 0)
        written = write_outputs(outputs, Path(out_dir), force)
    except RenderError as exc:
        report_problems(exc.diagnostics, writes=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"wrote {len(written)} file(s), {len(outputs) - len(written)} unchanged, in {out_dir}/", err=True)


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--tolerance", type=float, default=1e-9, show_default=True,
              help="float64 verdict: largest error of a layer, step or gradient relative to the reference's "
                   "largest magnitude (float32 rows are judged against their rounding bound).")
@click.option("--batch", type=click.IntRange(1, 1024), default=2, show_default=True,
              help="Examples in the random input batch (and in the training steps).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random weights, input and labels; the same seed gives the same numbers.")
@click.option("--steps", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Training steps with the spec's optimizer, loss, regularizers and schedule (one step = one "
                   "epoch of the schedule).")
@click.option("--keras-backend", type=click.Choice(["tensorflow", "jax", "torch"]), default="tensorflow",
              show_default=True, help="Keras backend of the reference, run in its own process.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format.")
@click.option("--report", "report", type=click.Path(dir_okay=False), default=None,
              help="Also write the certificate to this file: .json gives JSON, .md (or anything else) Markdown.")
@set_option
def check(spec: str, tolerance: float, batch: int, seed: int, steps: int, keras_backend: str, fmt: str,
          report: str | None, sets: tuple[str, ...]) -> None:
    """Prove the Keras and PyTorch renderings of SPEC are the same network and training steps."""
    graph = load_or_exit(spec, sets=sets)
    require_or_exit("check", {"keras", "pytorch"})
    from alexgen.check import Options, print_rows, rows_json, run_check, write_report

    options = Options(tolerance, batch, seed, steps, keras_backend, sets)
    try:
        rows = run_check(graph, Path(spec).as_posix(), options=options)
    except RuntimeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if report is not None:
        write_report(Path(report), graph, rows, options)
    if fmt == "json":
        click.echo(rows_json(graph, rows, options))
    else:
        print_rows(graph, rows, options)
    sys.exit(0 if all(row.passed for row in rows) else 1)


@cli.command("convert-weights")
@click.option("--spec", "spec", required=True, type=click.Path(dir_okay=False),
              help="The spec the weights belong to (its hash is checked against the file's); with --from-spec, the "
              "spec the weights are moved into.")
@click.option("--from", "source", type=click.Choice(["keras", "pytorch", "neutral"]), default="neutral",
              show_default=True, help="Format of INPUT_PATH: a Keras .weights.h5/.keras file, a PyTorch state_dict, "
              "or neutral safetensors.")
@click.option("--to", "dest", type=click.Choice(["keras", "pytorch", "neutral"]), default="neutral",
              show_default=True, help="Format of the output file.")
@click.option("--from-spec", type=click.Path(dir_okay=False), help="Transplant: INPUT_PATH holds the weights of "
              "this other spec; tensors that carry over to --spec (see `alexgen diff`) are copied, the rest "
              "initialized as --spec says. Each tensor is named in the report.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the tensors a transplant initializes; the same seed gives the same numbers.")
@click.option("-o", "--output", "output_option", type=click.Path(dir_okay=False),
              help="The file to write (instead of OUTPUT_PATH).")
@click.argument("input_path", type=click.Path(exists=True, dir_okay=False))
@click.argument("output_path", type=click.Path(dir_okay=False), required=False)
@set_option
def convert_weights(spec: str, source: str, dest: str, from_spec: str | None, seed: int, output_option: str | None,
                    input_path: str, output_path: str | None, sets: tuple[str, ...]) -> None:
    """Convert weights between a Keras file, a PyTorch state_dict and the neutral safetensors file, or transplant
    another spec's weights (fine-tuning)."""
    if (output_path is None) == (output_option is None):
        click.echo("alexgen: error: give the output file once: OUTPUT_PATH or -o FILE", err=True)
        sys.exit(EXIT_INVALID)
    output = output_option or output_path
    assert output is not None
    graph = load_or_exit(spec, sets=sets, writes=True)
    donor = load_or_exit(from_spec, writes=True) if from_spec else None
    require_or_exit("convert-weights", {source, dest} - {"neutral"})
    from alexgen.convert import convert, read_weights, write_weights
    from alexgen.weights import WeightsError

    try:
        if donor is None:
            count = convert(graph, Path(spec).as_posix(), source, dest, Path(input_path), Path(output))
        else:
            from alexgen.transplant import CARRIED, transplant

            tensors, moved = transplant(donor, graph, read_weights(donor, str(from_spec), source, Path(input_path)),
                                        seed)
            write_weights(graph, Path(spec).as_posix(), dest, tensors, Path(output))
    except WeightsError as exc:
        click.echo(f"alexgen: error: {printable(str(exc))}", err=True)
        sys.exit(EXIT_INVALID)
    if donor is None:
        click.echo(f"converted {count} tensors: {input_path} ({source}) -> {output} ({dest})", err=True)
        return
    for line in moved:
        click.echo(printable(str(line)))
    carried = sum(m.action == CARRIED for m in moved)
    click.echo(f"transplanted {donor.name} -> {graph.name}: {carried} tensors carried, "
               f"{len(tensors) - carried} initialized, {len(moved) - len(tensors)} dropped; wrote {output} ({dest})",
               err=True)


@cli.command("import")
@click.argument("source")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The spec file to write.")
@click.option("--format", "fmt", type=click.Choice(["auto", "keras", "pytorch", "caffe", "darknet"]), default="auto",
              show_default=True, help="Source format (auto: from the suffix, or the model a module:function returns).")
@click.option("--input-shape", help="H,W,C of one example (PyTorch sources need it; overrides a Caffe/Darknet input).")
@click.option("--name", help="The spec's name (default: from the model).")
@click.option("--force", is_flag=True, help="Overwrite an output file not written by `alexgen import`.")
@click.option("--weights", type=click.Path(dir_okay=False), help="Also write the source model's weights to this "
              "neutral .safetensors file of the imported spec (Keras, PyTorch; Darknet with --source-weights).")
@click.option("--source-weights", type=click.Path(exists=True, dir_okay=False), help="The trained weights of a "
              "Darknet source (its .weights file), read for --weights.")
@click.option("--verify", is_flag=True, help="Run the original model (Keras, PyTorch) and the code generated from the "
              "imported spec with the same weights on the same random input, and report each layer's error; an "
              "import that does not verify writes nothing and exits 2.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=1e-5, show_default=True,
              help="--verify: largest error allowed, relative to the original's largest value of each layer.")
def import_(source: str, output: str, fmt: str, input_shape: str | None, name: str | None, force: bool,
            weights: str | None, source_weights: str | None, verify: bool, tolerance: float) -> None:
    """Import a Keras (.keras, module:function), PyTorch (module:function), Caffe (.prototxt) or Darknet (.cfg)
    model as a checked spec."""
    from alexgen.importers.command import WeightOptions, run

    options = WeightOptions(weights, source_weights, verify, tolerance)
    sys.exit(run(source, output, fmt, input_shape, name, force, options))


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.svg or FILE.png.")
@set_option
def diagram(spec: str, output: str, sets: tuple[str, ...]) -> None:
    """Draw SPEC as a picture: one box per layer, towers side by side, totals in the caption."""
    from alexgen.diagram import DiagramError, output_format, write_diagram
    from alexgen.netview import from_graph

    try:
        output_format(Path(output))
        graph = load_or_exit(spec, sets=sets)
        size = write_diagram(from_graph(graph), Path(output))
    except DiagramError as exc:
        click.echo(f"alexgen: {printable(str(exc))}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"wrote {output} ({size:,} bytes, {len(graph.nodes)} layers)", err=True)


@cli.command()
@click.argument("spec_a", type=click.Path(dir_okay=False))
@click.argument("spec_b", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True, help="Output format.")
@set_option
@click.option("--set-a", "sets_a", multiple=True, metavar="KEY=VALUE", help="Like --set, for SPEC_A only.")
@click.option("--set-b", "sets_b", multiple=True, metavar="KEY=VALUE", help="Like --set, for SPEC_B only.")
def diff(spec_a: str, spec_b: str, fmt: str, sets: tuple[str, ...], sets_a: tuple[str, ...],
         sets_b: tuple[str, ...]) -> None:
    """Compare SPEC_A with SPEC_B: layers, totals, and which trained weights carry over."""
    from alexgen import diff as report
    from alexgen.netview import from_graph

    (graph_a, _), (graph_b, _) = load_all_or_exit((spec_a, spec_b), sets=sets, own_sets=(sets_a, sets_b))
    result = report.compare(from_graph(graph_a), from_graph(graph_b))
    if fmt == "table":
        report.print_table(result)
    else:
        click.echo(report.to_json(result) if fmt == "json" else report.to_markdown(result), nl=False)


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="Print the resolved spec as YAML or as JSON.")
@click.option("--params", "show_params", is_flag=True, help="Print the parameters (type, default, value and the "
              "fields each flows into) and the source files instead.")
@set_option
def resolve(spec: str, fmt: str, show_params: bool, sets: tuple[str, ...]) -> None:
    """Print SPEC fully resolved (bases, parameters, repeats and --set applied): what every other command reads."""
    from alexgen.compose import dump_resolved, resolve_file

    load_or_exit(spec, sets=sets)  # printed only when valid, budgets included
    click.echo(dump_resolved(resolve_file(spec, Path(spec).as_posix(), sets), fmt, show_params), nl=False)


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--target", type=click.Choice(["keras", "pytorch"]),
              help="Framework to train with (required for a new run; a resumed run keeps its own).")
@click.option("--data", help="Data source: digits (default, offline), mnist:DIR, folder:DIR, synthetic or synthetic:N.")
@click.option("--epochs", type=click.IntRange(min=1), help="Total epochs (default: the spec's training.epochs).")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="Global batch size (default: the spec's training.batch_size); split among torchrun processes.")
@click.option("--out", help="Run folder to create (default: runs/<spec>-<target>, numbered when taken).")
@click.option("--resume", type=click.Path(file_okay=False),
              help="Continue the run in this folder from its last checkpoint (refused for another spec).")
@click.option("--seed", type=int, help="Seed of every random generator (default 0); same seed, same metrics on CPU.")
@click.option("--limit", type=click.IntRange(min=1), help="Use at most N examples of each split (smoke tests).")
@click.option("--tracker", type=click.Choice(["tensorboard", "wandb", "mlflow"]),
              help="Also log to this experiment tracker (its library must be installed).")
@click.option("--tensorboard", is_flag=True, help="TensorBoard event files in RUN_DIR/tensorboard (--tracker "
              "tensorboard).")
@click.option("--emissions", metavar="COUNTRY", help="Measure energy and CO2 with codecarbon, offline, at the "
              "grid carbon intensity of COUNTRY (ISO 3166 alpha-3: USA, FRA, ...): RUN_DIR/emissions.csv and "
              "summary.json.")
@click.option("--strategy", type=click.Choice(["none", "mirrored", "multiworker"]),
              help="Keras only: train under tf.distribute MirroredStrategy or MultiWorkerMirroredStrategy "
              "(TF_CONFIG). PyTorch: launch under torchrun instead.")
@click.option("--workers", type=click.IntRange(min=0), help="PyTorch DataLoader worker processes for image files "
              "(default: one per core but one).")
@click.option("--deterministic-compare", is_flag=True, help="Train in both frameworks in float64 from the same "
              "weights and batches, dropout off (default 3 epochs); exit 1 unless per-epoch losses agree to 1e-4 and "
              "final weights to 1e-6 (relative).")
@set_option
def train(spec: str, target: str | None, data: str | None, epochs: int | None, batch_size: int | None,
          out: str | None, resume: str | None, seed: int | None, limit: int | None, tracker: str | None,
          tensorboard: bool, emissions: str | None, strategy: str | None, workers: int | None,
          deterministic_compare: bool, sets: tuple[str, ...]) -> None:
    """Train SPEC with the generated Keras or PyTorch module; metrics, curves and checkpoints in a run folder."""
    graph = load_or_exit(spec, sets=sets, writes=True)
    flags = {"target": target, "data": data, "epochs": epochs, "batch_size": batch_size, "seed": seed,
             "limit": limit, "strategy": strategy, "workers": workers}
    if deterministic_compare:
        require_or_exit("train", {"keras", "pytorch"})
        from alexgen.train.command import compare_command

        sys.exit(compare_command(graph, Path(spec).as_posix(), flags))
    if target is not None:
        require_or_exit("train", {target})
    from alexgen.quiet import quiet_training_warnings
    from alexgen.train.command import train_command

    quiet_training_warnings()

    sys.exit(train_command(graph, Path(spec).as_posix(), flags, out=out, resume=resume, emissions=emissions,
                           tracker_name="tensorboard" if tensorboard and tracker is None else tracker))


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for editors and CI)."""
    from alexgen.schema import schema_json

    click.echo(schema_json(), nl=False)


def main() -> None:
    """Entry point: never show a traceback (set ALEXGEN_DEBUG=1 to see one for a bug report)."""
    import os

    from alexgen.extras import PROVIDED_BY, MissingExtra
    from alexgen.quiet import quiet_framework_startup

    quiet_framework_startup()
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("ALEXGEN_DEBUG"):
            raise
        module = (getattr(exc, "name", None) or "").split(".")[0] if isinstance(exc, ModuleNotFoundError) else ""
        if module in PROVIDED_BY:  # an optional package that the up-front check did not foresee
            report_missing(MissingExtra(sys.argv[1] if len(sys.argv) > 1 else "", [module]))
        click.echo(f"alexgen: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("This is a bug in alexgen; rerun with ALEXGEN_DEBUG=1 for the details.", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
