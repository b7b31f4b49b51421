"""A newcomer's first commands (issue 8): clear errors for missing extras, quiet frameworks, help, wording, modes."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT, SPEC_NAMES, SPEC_PATHS

from alexgen.cli import cli
from alexgen.quiet import QUIET_DEFAULTS, quiet_framework_startup

TINY = """\
alexgen: 1
name: tiny
input_shape: [8, 8, 1]
layers:
  - {type: conv2d, filters: 2, kernel_size: 3}
  - {type: flatten}
  - {type: dense, units: 3, activation: softmax}
"""
EXTRAS = ("numpy", "torch", "keras", "tensorflow", "safetensors", "h5py")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A three-layer spec, fast to check."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


# --- a real environment without the extras --------------------------------------------------------------------


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _core_distributions() -> dict[str, importlib.metadata.Distribution]:
    """alexgen's required (not optional) dependencies and theirs, from the installed metadata."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [r for r in importlib.metadata.requires("alexgen") or [] if "extra ==" not in r]
    while todo:
        name = re.match(r"[A-Za-z0-9._-]+", todo.pop()).group(0)
        if _key(name) in found:
            continue
        dist = importlib.metadata.distribution(name)
        found[_key(name)] = dist
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return found


def _top_level(dist: importlib.metadata.Distribution) -> set[str]:
    """The importable top-level names a distribution installs."""
    listed = dist.read_text("top_level.txt")
    if listed:
        return set(listed.split())
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if not first.endswith((".dist-info", ".egg-info", ".pth")) and first not in ("..", "__pycache__"):
            names.add(first.split(".")[0])
    return names


@pytest.fixture(scope="module")
def core_only(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Python with alexgen and its required dependencies only: `python -S` (no site-packages) over a folder that
    links just those packages. numpy, torch, keras, tensorflow and safetensors are not importable in it."""
    folder = tmp_path_factory.mktemp("core-only")
    for dist in _core_distributions().values():
        site = Path(dist.locate_file(""))
        for name in _top_level(dist):
            for path in [site / name, site / f"{name}.py", *site.glob(f"{name}.*.so")]:
                if path.exists() and not (folder / path.name).exists():
                    (folder / path.name).symlink_to(path)
    return [str(folder), str(ROOT)]


def run_core_only(core_only: list[str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python -S -m alexgen ARGS` in the environment without extras."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(core_only)}
    return subprocess.run(
        [sys.executable, "-S", "-m", "alexgen", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_environment_without_extras_lacks_them_and_runs_the_core(core_only: list[str], tiny: Path) -> None:
    probe = f"import importlib.util as u; print([m for m in {EXTRAS!r} if u.find_spec(m)])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(core_only)}
    result = subprocess.run([sys.executable, "-S", "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert run_core_only(core_only, "analyze", str(tiny)).returncode == 0
    rendered = run_core_only(core_only, "render", str(tiny), "--out", str(tiny.parent / "out"))
    assert rendered.returncode == 0, rendered.stderr
    assert (tiny.parent / "out" / "keras" / "tiny.py").exists()


@pytest.mark.parametrize(
    ("args", "message", "extra"),
    [
        (
            ("check", "{spec}"),
            "`alexgen check` needs numpy, safetensors, torch, keras, tensorflow, h5py, which are not installed",
            "all",
        ),
        (
            ("convert-weights", "--spec", "{spec}", "--from", "pytorch", "--to", "neutral", "{spec}", "{out}"),
            "`alexgen convert-weights` needs numpy, safetensors, torch, which are not installed",
            "all",
        ),
        (
            ("convert-weights", "--spec", "{spec}", "--from", "neutral", "--to", "neutral", "{spec}", "{out}"),
            "`alexgen convert-weights` needs numpy, safetensors, which are not installed",
            "all",
        ),
    ],
    ids=["check", "convert-pytorch", "convert-neutral"],
)
def test_a_missing_extra_names_the_install_command(
    core_only: list[str], tiny: Path, args: tuple[str, ...], message: str, extra: str
) -> None:
    out = tiny.parent / "converted.safetensors"
    result = run_core_only(core_only, *(a.format(spec=tiny, out=out) for a in args))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stderr == (
        f"alexgen: error: {message}\n"
        f'    hint: pip install "alexgen[{extra}]" (in a clone of the repository: '
        f'pip install ".[{extra}]")\n'
    )
    assert not out.exists()


def test_an_unforeseen_missing_module_is_reported_as_a_missing_extra(core_only: list[str], tiny: Path) -> None:
    code = (
        "import sys; from alexgen import cli; "
        "cli.require_or_exit = lambda command, frameworks: None; "  # skip the up-front check
        f"sys.argv = ['alexgen', 'check', {str(tiny)!r}]; cli.main()"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(core_only)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("alexgen: error: `alexgen check` needs numpy, which is not installed\n")


# --- quiet frameworks ---------------------------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.torch
def test_check_prints_no_framework_start_up_lines_and_one_worst_error(tiny: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in QUIET_DEFAULTS}
    result = subprocess.run(
        [sys.executable, "-m", "alexgen", "check", str(tiny), "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for noise in ("absl", "oneDNN", "cpu_feature_guard", "I0000", "W0000", "DT_DOUBLE"):
        assert noise not in result.stderr, result.stderr
    assert result.stderr == ""
    rows = json.loads(result.stdout)["checks"]  # the summary row quotes the worst layer, in its columns and detail
    summary = next(r for r in rows if r["check"] == "layers (float64)")
    layers = [r for r in rows if r["check"].startswith("layer ") and r["check"].endswith("(float64)")]
    assert summary["max_rel"] == max(r["max_rel"] for r in layers)
    assert f"worst {summary['max_rel']:.2e}" in summary["detail"]


def test_quiet_defaults_never_override_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    quiet_framework_startup()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"


# --- help, no arguments, wording ----------------------------------------------------------------------------


def test_alexgen_alone_prints_the_help_and_exits_0(alexgen_cli) -> None:
    result = alexgen_cli()
    assert result.returncode == 0, result.stderr
    assert result.stdout == alexgen_cli("--help").stdout
    assert "Commands:" in result.stdout


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_help_shows_every_command_description_whole(columns: int) -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=columns)
    assert result.exit_code == 0
    listing = " ".join(result.output.split("Commands:")[1].split())
    assert "..." not in listing
    for name, command in cli.commands.items():
        assert f"{name} {command.get_short_help_str(10_000)}" in listing
    assert max(len(line) for line in result.output.splitlines()) <= max(columns, 80)


def test_every_option_has_help() -> None:
    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"


def test_analyze_never_says_it_wrote_nothing(alexgen_cli, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("alexgen: 1\nname: bad\ninput_shape: [8, 8, 1]\nlayers:\n  - {type: flat}\n")
    analyzed = alexgen_cli("analyze", "bad.yaml", cwd=tmp_path)
    assert analyzed.returncode == 2
    assert "written" not in analyzed.stderr
    assert analyzed.stderr.rstrip().endswith("1 error found.")
    rendered = alexgen_cli("render", "bad.yaml", "--out", "out", cwd=tmp_path)
    assert rendered.stderr.rstrip().endswith("1 error found; nothing was written.")


@pytest.mark.parametrize("command", [["analyze"], ["render", "--out", "out"], ["check"]])
def test_a_missing_spec_file_is_named_without_a_position(alexgen_cli, tmp_path: Path, command: list[str]) -> None:
    result = alexgen_cli(command[0], "nope.yaml", *command[1:], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("alexgen: error: no such file: nope.yaml\n"), result.stderr
    assert ":1:1" not in result.stderr


# --- file modes -----------------------------------------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o027])
def umask(request: pytest.FixtureRequest):
    """Run the test under a given umask, restoring the old one."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rendered_files_get_the_usual_permissions(tmp_path: Path, tiny: Path, umask: int) -> None:
    result = CliRunner().invoke(cli, ["render", str(tiny), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "out").rglob("*.py"))
    assert written
    assert {oct(_mode(p)) for p in written} == {oct(0o666 & ~umask)}


def test_converted_weights_get_the_usual_permissions(tmp_path: Path, tiny: Path, umask: int) -> None:
    pytest.importorskip("safetensors")
    from alexgen.check import random_weights
    from alexgen.validate import load_graph
    from alexgen.weights import write_neutral

    graph = load_graph(tiny)
    write_neutral(tmp_path / "a.safetensors", random_weights(graph, 0), graph)
    assert _mode(tmp_path / "a.safetensors") == 0o666 & ~umask
    result = CliRunner().invoke(
        cli,
        [
            "convert-weights",
            "--spec",
            str(tiny),
            "--from",
            "neutral",
            "--to",
            "neutral",
            str(tmp_path / "a.safetensors"),
            str(tmp_path / "b.safetensors"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert _mode(tmp_path / "b.safetensors") == 0o666 & ~umask


# --- the check table's summary row ----------------------------------------------------------------------------


def test_the_forward_summary_quotes_one_worst_error() -> None:
    common = pytest.importorskip("alexgen.check.common")
    layers = [common.Row("layer conv1 (float64)", True, "", 1e-7, 3e-6, 1e-5),
              common.Row("layer fc (float64)", True, "", 2e-6, 1e-7, 1e-5)]
    summary = common.layer_rows_summary("layers (float64)", layers)
    assert (summary.check, summary.passed, summary.max_abs, summary.max_rel) == ("layers (float64)", True, 1e-7, 3e-6)
    assert summary.detail == "2 layers compared; worst 3.00e-06 at conv1"


# --- the analyze table fits the terminal ----------------------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 100, 160])
@pytest.mark.parametrize("path", SPEC_PATHS, ids=SPEC_NAMES)
def test_the_table_fits_the_width_and_never_cuts_a_number(path: Path, columns: int) -> None:
    from alexgen.report import COLUMNS, rows
    from alexgen.validate import load_graph

    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, ["analyze", str(path)])  # piped: COLUMNS decides
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= columns, result.output
    assert all(line == line.rstrip() for line in lines), "trailing spaces"
    assert "…" not in result.output and "..." not in result.output
    header = next(line for line in lines if line.startswith("layer "))
    shown = header.split()
    assert {"layer", "output", "params", "MACs"} <= set(shown)
    if columns >= 100:
        assert "RF/stride" in shown and "activ." in shown
    keep = [COLUMNS.index(column) for column in shown]
    body = lines[lines.index(header) + 2 :]
    for row, line in zip(rows(load_graph(path)), body, strict=False):
        assert line.split() == [row[i] for i in keep if row[i]], line  # every kept cell whole, in order
    graph = load_graph(path)
    assert f"{graph.total_params:,}" in result.output and f"{graph.macs:,}" in result.output


def test_a_narrow_terminal_gets_the_compact_layout() -> None:
    result = CliRunner(env={"COLUMNS": "40"}).invoke(cli, ["analyze", str(ROOT / "spec" / "alexnet.yaml")])
    lines = result.output.splitlines()
    assert "conv4 (conv2d) -> 13x13x384" in lines
    assert "    params 1,327,488   MACs 224.3M" in lines
    assert all(line == line.rstrip() for line in lines)


# --- what the README's examples write stays out of git ---------------------------------------------------------


def test_gitignore_covers_what_the_readme_examples_write() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```(?:bash|python)\n(.*?)```", readme, flags=re.S))
    written = set(re.findall(r"[\w./-]+\.(?:h5|keras|pt|safetensors)\b", code))
    written |= {".venv/bin/python", "runs/run1/log.csv", ".venv/.alexgen-install.stamp", "x.stamp"}
    assert {"alexnet.weights.h5", "alexnet.safetensors", "alexnet.pt"} <= written
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *sorted(written)], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    assert sorted(ignored) == sorted(written)


@pytest.mark.keras
@pytest.mark.parametrize("level", [None, "0"])
def test_a_generated_keras_module_hides_tensorflow_info_lines_unless_the_user_chose_a_level(level: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in QUIET_DEFAULTS}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    code = "import generated.keras.alexnet_mnist as m; m.build_model()"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True, timeout=300)
    # cpu_feature_guard is an INFO line; oneDNN's announcement comes before TensorFlow's logging reads the level,
    # and turning oneDNN off to hide it would cost speed (docs/troubleshooting in README).
    assert ("cpu_feature_guard" in result.stderr) == (level == "0"), result.stderr
