"""`alexgen train`: settings, data and run folder checked before anything is written, then the chosen loop."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from alexgen.data import Data, DataError, load_data
from alexgen.graph import Graph
from alexgen.runs import RunError, RunFolder, Tracker, check_tracker, make_tracker, spec_hash
from alexgen.runs.emissions import Emissions, check_emissions
from alexgen.train.common import Outcome, Plan, read_state
from alexgen.train.distributed import Ranks, job_ranks
from alexgen.train.settings import Settings, resolve_settings
from alexgen.weights import WeightsError

EXIT_OK, EXIT_INVALID = 0, 2


def say(text: str) -> None:
    """A line for the user on stderr."""
    print(text, file=sys.stderr, flush=True)


def default_out(name: str, target: str) -> Path:
    """runs/<spec>-<target>, or the first of -2, -3, ... not taken."""
    base = Path("runs") / f"{name}-{target}"
    candidate, number = base, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def taken(path: Path) -> bool:
    """Whether `path` exists and is not an empty folder (RunFolder.create would refuse it)."""
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def load(graph: Graph, settings: Settings) -> Data:
    """The data of the settings' source, limited, for this network."""
    data = load_data(settings.data, graph.input_shape, int(graph.output.shape[0]), seed=settings.seed)
    data = data.limited(settings.limit)
    if len(data.train) == 0 or len(data.test) == 0:
        raise DataError(f"--data {settings.data}: no examples to train or test on")
    return data


def config(graph: Graph, spec_path: str, settings: Settings, data: Data) -> dict[str, Any]:
    """What config.yaml records: the spec, the resolved settings, the spec's training section, the data."""
    training = graph.spec.training
    return {
        "spec": spec_path,
        "spec_name": graph.name,
        "settings": settings.as_config(),
        "training": training.model_dump(mode="json") if training else None,
        "data": {
            "source": data.name,
            "classes": data.num_classes,
            "train": len(data.train),
            "val": len(data.val),
            "test": len(data.test),
        },
        "command": ["alexgen", *sys.argv[1:]],
    }


def prepare(
    graph: Graph,
    spec_path: str,
    flags: dict[str, Any],
    out: str | None,
    resume: str | None,
    tracker_name: str | None = None,
    emissions: str | None = None,
) -> tuple[Settings, Data, RunFolder, int, Ranks]:
    """Settings, data, the run folder, the epochs already done and this process's ranks; raises before writing."""
    digest = spec_hash(graph.spec)
    check_tracker(tracker_name)
    check_emissions(emissions)
    if resume is not None:
        folder = RunFolder.resume(Path(resume), digest)
        saved = folder.config.get("settings") or {}
        settings = resolve_settings(graph, flags, saved)
        ranks = job_ranks(settings.strategy)
        state = read_state(folder.path)
        if state.get("target") != settings.target:
            raise RunError(f"{resume}: its checkpoint is a {state.get('target')} checkpoint, not {settings.target}")
        data = load(graph, settings)
        if ranks.lead and folder.last_epoch > state["epoch"]:
            folder.truncate(state["epoch"])
        return settings, data, folder, int(state["epoch"]), ranks
    settings = resolve_settings(graph, flags)
    ranks = job_ranks(settings.strategy)
    path = Path(out) if out else default_out(graph.name, settings.target)
    if ranks.lead and taken(path):
        RunFolder.create(path, digest, {})  # raises RunError, saying why, without writing
    data = load(graph, settings)
    if not ranks.lead:  # rank 0 writes the folder; the others only need to know where it is
        return settings, data, RunFolder(path, digest, plot=False), 0, ranks
    return settings, data, RunFolder.create(path, digest, config(graph, spec_path, settings, data)), 0, ranks


def run_loop(plan: Plan) -> Outcome:
    """The loop of the plan's framework (imported only now)."""
    if plan.settings.target == "pytorch":
        from alexgen.train import loop_torch

        return loop_torch.train(plan)
    from alexgen.train import loop_keras

    return loop_keras.train(plan)


def summary(plan: Plan, outcome: Outcome, seconds: float, ranks: Ranks) -> dict[str, Any]:
    """summary.json's results."""
    trained = sum(len(plan.data.train) for _ in outcome.history)
    body: dict[str, Any] = {
        **outcome.test,
        "target": plan.settings.target,
        "data": plan.data.name,
        "wall_seconds": round(seconds, 3),
        "train_seconds": round(sum(float(r["seconds"]) for r in outcome.history), 3),
        "examples_trained": trained,
        "world_size": ranks.world_size,
        **outcome.extra,
    }
    if outcome.history:
        best_key = plan.settings.best_metric
        body["best_" + best_key] = (
            max(r[best_key] for r in outcome.history)
            if best_key.endswith("accuracy")
            else min(r[best_key] for r in outcome.history)
        )
    return body


def after_failure(folder: RunFolder, *, fresh: bool, tracker: Tracker | None, meter: Emissions | None) -> str:
    """Remove a new run folder in which no epoch finished, else keep its checkpoints; says which it did."""
    if tracker is not None:
        tracker.close()
    if meter is not None:
        meter.stop()
    if fresh and not folder.history:
        folder.discard()
        return f"{folder.path}: no epoch finished, so the new run folder was removed; nothing else was written"
    return (
        f"{folder.path}: keeps its checkpoint after epoch {folder.last_epoch}; fix the data and continue with "
        f"--resume {folder.path}"
    )


def train_command(
    graph: Graph,
    spec_path: str,
    flags: dict[str, Any],
    *,
    out: str | None = None,
    resume: str | None = None,
    tracker_name: str | None = None,
    progress: bool | None = None,
    emissions: str | None = None,
) -> int:
    """Train SPEC as `alexgen train` does; the exit code (2 on bad input, with nothing overwritten)."""
    began = time.perf_counter()
    try:
        settings, data, folder, start, ranks = prepare(graph, spec_path, flags, out, resume, tracker_name, emissions)
    except (DataError, RunError, WeightsError) as exc:
        say(f"alexgen: error: {exc}")
        return EXIT_INVALID
    if start >= settings.epochs:
        say(
            f"{folder.path}: already trained {start} of {settings.epochs} epochs; nothing to do "
            f"(pass --epochs N with N > {start} to train more)"
        )
        return EXIT_OK
    tracker: Tracker | None = None
    meter: Emissions | None = None
    try:
        if ranks.lead:
            tracker = make_tracker(tracker_name, folder.path, run_name=folder.path.name, framework=settings.target)
            tracker.log_config({"spec": spec_path, **settings.as_config()})
            meter = Emissions(folder.path, emissions) if emissions else None
            say(
                f"training {graph.name} ({graph.total_params:,} parameters) with {settings.target} on {data.name}: "
                f"{len(data.train)} train / {len(data.val)} val / {len(data.test)} test examples, epochs "
                f"{start + 1}..{settings.epochs}, batch {settings.batch_size} -> {folder.path}"
            )
        plan = Plan(graph, spec_path, settings, data, folder, tracker, start, progress=progress)
        outcome = run_loop(plan)
    except (DataError, RunError, WeightsError) as exc:
        say(f"alexgen: error: {exc}")
        if ranks.lead:
            say(after_failure(folder, fresh=resume is None, tracker=tracker, meter=meter))
        return EXIT_INVALID
    if ranks.lead:
        seconds = time.perf_counter() - began
        measured = meter.stop() if meter is not None else {}
        outcome.extra.update(measured)
        path = folder.write_summary(summary(plan, outcome, seconds, ranks))
        if tracker is not None:
            tracker.log_metrics({**outcome.test, **measured}, settings.epochs)
            tracker.close()
        shown = " · ".join(f"{k} {v:.4f}" for k, v in outcome.test.items())
        if measured:
            shown += f" · {measured['energy_kwh'] * 1000:.3g} Wh, {measured['emissions_kg_co2eq'] * 1000:.3g} g CO2eq"
        say(f"{shown} · {seconds:.1f} s; run folder {folder.path} ({path.name}, curves.png, best.safetensors)")
    return EXIT_OK


def compare_command(graph: Graph, spec_path: str, flags: dict[str, Any]) -> int:
    """`--deterministic-compare`: print the comparison; 0 when it passes, 1 when not, 2 on bad input."""
    from alexgen.train.compare import compare_loops, print_comparison

    flags = {**flags, "epochs": flags.get("epochs") or 3, "target": "pytorch"}
    try:
        settings = resolve_settings(graph, flags)
        data = load(graph, settings)
        result = compare_loops(graph, spec_path, data, {**flags, "target": None})
    except (DataError, RunError, WeightsError) as exc:
        say(f"alexgen: error: {exc}")
        return EXIT_INVALID
    print_comparison(graph, result)
    return EXIT_OK if result.passed else 1
