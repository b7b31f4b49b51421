"""The command line: exit codes, clean errors, the three formats, the bundled default, no frameworks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SPEC_NAMES, SPEC_PATHS

TOTALS = {
    "alexnet": 62_378_344,
    "alexnet_plain": 62_378_344,
    "alexnet_bn": 62_379_752,
    "alexnet_two_tower": 60_965_224,
    "alexnet_bn_l2": 62_416_616,
    "alexnet_mnist": 3_900_938,
    "alexnet_paper": 60_965_224,
    "vgg16": 138_357_544,  # keras.applications.VGG16(weights=None).count_params()
}
TOP_KEYS = {"name", "input_shape", "output_shape", "total_params", "trainable_params", "non_trainable_params", "macs",
            "other_ops", "layers"}
LAYER_KEYS = {"name", "type", "inputs", "output_shape", "params", "trainable_params", "macs", "other_ops",
              "receptive_field"}
FRAMEWORKS = ("torch", "tensorflow", "keras")

INVALID = """\
alexgen: 1
name: broken
input_shape: [32, 32, 3]
layers:
  - {type: conv2d, filters: 8, kernel_size: 40}
  - {type: dense, unit: 10}
"""


@pytest.fixture
def broken_spec(tmp_path: Path) -> Path:
    """A spec with two errors."""
    path = tmp_path / "broken.yaml"
    path.write_text(INVALID)
    return path


# --- invalid input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_invalid_spec_exits_2_without_traceback_or_output(alexgen_cli, broken_spec: Path, fmt: str) -> None:
    result = alexgen_cli("analyze", str(broken_spec), "--format", fmt)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert f"{broken_spec}:5:45: error: layer 0 'conv2d_1': the height 32 (padded: 32)" in result.stderr
    assert f"{broken_spec}:6:19: error: layer 1 'dense_1': unknown key 'unit'" in result.stderr
    assert "hint: did you mean 'units'?" in result.stderr
    assert result.stderr.rstrip().endswith("2 errors found.")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the spec file is empty"),
        (b"alexgen: 1\nlayers: [\n", "YAML syntax error"),
        (b"name: caf\xe9\n", "the file is not valid UTF-8 (byte 0xe9)"),
        (b"- just\n- a list\n", "the top level of a spec must be a mapping, not a list"),
        (b"a: &a [*a]\n", "nests deeper than 40 levels"),
    ],
)
def test_unreadable_specs_exit_2_cleanly(alexgen_cli, tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = alexgen_cli("analyze", str(path), "--format", "json")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert expected in result.stderr


def test_missing_file_exits_2(alexgen_cli, tmp_path: Path) -> None:
    result = alexgen_cli("analyze", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"alexgen: error: no such file: {tmp_path / 'nope.yaml'}\n"), result.stderr
    assert "Traceback" not in result.stderr


def test_warnings_go_to_stderr_and_do_not_fail(alexgen_cli, tmp_path: Path) -> None:
    path = tmp_path / "unused.yaml"
    path.write_text("alexgen: 1\nname: unused\ninput_shape: [8, 8, 1]\nlayers:\n"
                    "  - {type: conv2d, name: side, filters: 2, kernel_size: 3}\n"
                    "  - {type: flatten, inputs: [input]}\n")
    result = alexgen_cli("analyze", str(path), "--format", "json")
    assert result.returncode == 0
    assert "warning: layer 0 'side': this layer's output is never used" in result.stderr
    assert json.loads(result.stdout)["output_shape"] == [64]


# --- the bundled default -------------------------------------------------------------------------------------


def test_analyze_without_argument_uses_the_bundled_alexnet(alexgen_cli, tmp_path: Path) -> None:
    result = alexgen_cli("analyze", cwd=tmp_path)  # far from spec/: the bundled copy is used
    assert result.returncode == 0, result.stderr
    assert "alexnet" in result.stdout
    assert "62,378,344" in result.stdout
    as_json = json.loads(alexgen_cli("analyze", "--format", "json", cwd=tmp_path).stdout)
    assert as_json["name"] == "alexnet"
    assert as_json["total_params"] == 62_378_344


# --- formats ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SPEC_PATHS, ids=SPEC_NAMES)
def test_json_has_exactly_the_documented_keys(alexgen_cli, path: Path) -> None:
    result = alexgen_cli("analyze", f"spec/{path.name}", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert set(data) == TOP_KEYS
    assert data["total_params"] == TOTALS[path.stem]
    assert data["trainable_params"] + data["non_trainable_params"] == data["total_params"]
    assert data["layers"], "no layers"
    for layer in data["layers"]:
        assert set(layer) == LAYER_KEYS
        assert set(layer["receptive_field"]) == {"size", "stride"}
        assert isinstance(layer["inputs"], list)
    assert data["output_shape"] == data["layers"][-1]["output_shape"]
    assert sum(layer["params"] for layer in data["layers"]) == data["total_params"]


def test_markdown_contains_a_table(alexgen_cli) -> None:
    result = alexgen_cli("analyze", "spec/alexnet.yaml", "--format", "markdown")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    header = lines.index("| layer | type | output | params | non-train. | MACs | other | activ. | RF/stride |")
    assert lines[header + 1] == "|---|---|---|---|---|---|---|---|---|"
    rows = [line for line in lines[header + 2:] if line.startswith("|")]
    assert len(rows) == 1 + 14  # the input row, then every layer
    assert all(row.count("|") == 10 for row in rows)
    assert "| conv1 | conv2d | 55x55x96 | 34,944 |" in result.stdout
    assert "- **parameters**: 62,378,344" in lines


@pytest.mark.parametrize("path", SPEC_PATHS, ids=SPEC_NAMES)
def test_table_fits_100_columns(alexgen_cli, path: Path) -> None:
    result = alexgen_cli("analyze", f"spec/{path.name}")
    assert result.returncode == 0, result.stderr
    widths = [len(line) for line in result.stdout.splitlines()]  # characters, not bytes
    assert max(widths) <= 100, result.stdout
    assert f"{TOTALS[path.stem]:,}" in result.stdout
    assert "─" in result.stdout  # a table was drawn


def test_table_lists_every_layer_and_the_totals(alexgen_cli) -> None:
    out = alexgen_cli("analyze", "spec/alexnet_bn.yaml").stdout
    for needle in ("bn1", "batch_norm", "55x55x96", "384", "192", "non-trainable", "704", "MACs",
                   "weight memory (fp32)", "activation memory (fp32, 1 image)", "19/8"):
        assert needle in out, needle


def test_help_and_version(alexgen_cli) -> None:
    result = alexgen_cli("--help")
    assert result.returncode == 0 and "analyze" in result.stdout and "schema" in result.stdout
    assert "--format" in alexgen_cli("analyze", "--help").stdout
    assert "0.1.0" in alexgen_cli("--version").stdout


def test_unknown_format_is_a_usage_error(alexgen_cli) -> None:
    result = alexgen_cli("analyze", "--format", "yaml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# --- no frameworks ----------------------------------------------------------------------------------------


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh interpreter from the repository root."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=120)


NO_FRAMEWORK = f"loaded = [m for m in {FRAMEWORKS!r} if m in sys.modules]; assert not loaded, loaded"


def test_importing_the_cli_imports_no_framework() -> None:
    result = run_python("import sys; import alexgen.cli, alexgen.validate, alexgen.report; " + NO_FRAMEWORK)
    assert result.returncode == 0, result.stderr


def test_analyzing_imports_no_framework() -> None:
    code = "\n".join([
        "import sys",
        "from click.testing import CliRunner",
        "from alexgen.cli import cli",
        "for args in (['analyze'], ['analyze', 'spec/alexnet_paper.yaml', '--format', 'json'],",
        "             ['analyze', 'spec/alexnet_two_tower.yaml', '--format', 'markdown'], ['schema']):",
        "    result = CliRunner().invoke(cli, args)",
        "    assert result.exit_code == 0, (args, result.output)",
        "    assert result.output, args",
        NO_FRAMEWORK,
    ])
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_analyze_imports_no_template_engine_formatter_or_table_code_it_does_not_print() -> None:
    code = ("import sys; from alexgen.cli import main; sys.argv = ['alexgen', 'analyze', '--format', 'json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'jinja2', 'ruff', 'rich', 'numpy', 'torch', "
            "'tensorflow', 'keras'})\nprint(loaded, file=sys.stderr)")
    result = run_python(code)
    assert result.returncode == 0 and '"macs"' in result.stdout, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr


def test_the_documented_diagnostics_example(alexgen_cli, tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "spec.md").read_text()
    spec = re.search(r"For this spec, `net.yaml`:\n\n```yaml\n(.*?)```", doc, flags=re.S).group(1)
    shown = re.search(r"```\n\$ alexgen analyze net.yaml\n(.*?)\$ echo \$\?\n2\n```", doc, flags=re.S).group(1)
    (tmp_path / "net.yaml").write_text(spec)
    result = alexgen_cli("analyze", "net.yaml", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", shown)


@pytest.mark.parametrize("enabled", [True, False])
def test_analyze_leaves_the_collector_as_it_found_it(enabled: bool) -> None:
    """analyze pauses the cyclic collector while it runs; an in-process caller gets it back in its own state."""
    import gc

    from click.testing import CliRunner

    from alexgen.cli import cli

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        result = CliRunner().invoke(cli, ["analyze", "--no-cache", "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["total_params"] == TOTALS["alexnet"]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
