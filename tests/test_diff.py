"""`alexgen diff`: layers matched by name, totals from the analyzer with deltas, and the fate of every trained
weight tensor (the carry-over a weights transplant will use)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from alexgen.diff import ADDED, CHANGED, NEW, REMOVED, SAME, UNCHANGED, carried_over, compare, to_markdown
from alexgen.netview import NetView, from_graph
from alexgen.validate import graph_from_text, load_graph

ALEXNET = ROOT / "spec" / "alexnet.yaml"
PAPER = ROOT / "spec" / "alexnet_paper.yaml"
GROUPED = {
    "conv2.kernel": ((5, 5, 96, 256), (5, 5, 48, 256)),
    "conv4.kernel": ((3, 3, 384, 384), (3, 3, 192, 384)),
    "conv5.kernel": ((3, 3, 384, 256), (3, 3, 192, 256)),
}


def view(path: Path) -> NetView:
    """The plain view of a spec file."""
    return from_graph(load_graph(path))


def text_view(text: str, name: str = "probe.yaml") -> NetView:
    """The plain view of spec text."""
    return from_graph(graph_from_text(text, name))


def test_paper_vs_single_tower_totals_come_from_the_analyzer() -> None:
    diff = compare(view(ALEXNET), view(PAPER))
    a, b = load_graph(ALEXNET).total_params, load_graph(PAPER).total_params
    assert (a, b) == (62_378_344, 60_965_224)
    assert diff.totals()["params"] == (a, b)
    assert b - a == -1_413_120
    assert diff.totals()["macs"] == (load_graph(ALEXNET).macs, load_graph(PAPER).macs)
    assert diff.totals()["layers"] == (14, 16)
    # the whole parameter delta is the three grouped convolutions' kernels
    assert sum(d.params_delta for d in diff.layers) == -1_413_120
    assert {d.name: d.params_delta for d in diff.layers if d.params_delta} == {
        "conv2": -307_200,
        "conv4": -663_552,
        "conv5": -442_368,
    }


def test_paper_vs_single_tower_layers() -> None:
    diff = compare(view(ALEXNET), view(PAPER))
    status = {d.name: d.status for d in diff.layers}
    assert [d.name for d in diff.layers][:6] == ["conv1", "norm1", "pool1", "conv2", "norm2", "pool2"]
    assert status["norm1"] == status["norm2"] == ADDED
    assert status["conv1"] == status["fc6"] == status["predictions"] == SAME
    assert status["pool1"] == CHANGED  # it now reads norm1
    conv2 = next(d for d in diff.layers if d.name == "conv2")
    fields = {c.field: (c.a, c.b) for c in conv2.changes}
    assert fields["settings"] == ("5x5/1 same, relu", "5x5/1 same, groups 2, relu")
    assert fields["params"] == ("614,656", "307,456")
    assert "type" not in fields and "output" not in fields


def test_paper_vs_single_tower_weights() -> None:
    fates = {f.key: f for f in compare(view(ALEXNET), view(PAPER)).tensors}
    assert len(fates) == 16
    changed = {k: (f.a_shape, f.b_shape) for k, f in fates.items() if f.status != UNCHANGED}
    assert changed == GROUPED
    assert all(fates[k].status == CHANGED and "shape" in fates[k].reason for k in GROUPED)
    assert carried_over(view(ALEXNET), view(PAPER)) == [k for k in fates if k not in GROUPED]


def test_reverse_direction_flips_signs_and_removes() -> None:
    diff = compare(view(PAPER), view(ALEXNET))
    assert diff.totals()["params"] == (60_965_224, 62_378_344)
    assert {d.name for d in diff.layers if d.status == REMOVED} == {"norm1", "norm2"}
    assert [d.name for d in diff.layers][:3] == ["conv1", "norm1", "pool1"]


def test_a_spec_against_itself_changes_nothing() -> None:
    diff = compare(view(PAPER), view(PAPER))
    assert all(d.status == SAME and not d.changes for d in diff.layers)
    assert all(f.status == UNCHANGED for f in diff.tensors)
    assert all(a == b for a, b in diff.totals().values())


def test_fine_tuning_to_ten_classes_keeps_everything_but_the_last_layer() -> None:
    ten = from_graph(load_graph(ALEXNET, sets=["num_classes=10"]))
    assert ten.layers[-1].shape == (10,)
    diff = compare(view(ALEXNET), ten)
    fates = {f.key: f for f in diff.tensors}
    assert {k for k, f in fates.items() if f.status != UNCHANGED} == {"predictions.kernel", "predictions.bias"}
    assert (fates["predictions.kernel"].a_shape, fates["predictions.kernel"].b_shape) == ((4096, 1000), (4096, 10))
    assert diff.totals()["params"][1] - diff.totals()["params"][0] == -4096 * 990 - 990
    assert len(carried_over(view(ALEXNET), ten)) == 14


HEAD = "alexgen: 1\nname: probe\ninput_shape: [8, 8, 3]\nlayers:\n"


def test_a_renamed_type_is_reported_and_its_weights_do_not_carry_over() -> None:
    a = text_view(
        HEAD + "  - {type: conv2d, name: body, filters: 4, kernel_size: 8}\n  - {type: flatten, name: f}\n"
        "  - {type: dense, name: out, units: 2}\n"
    )
    b = text_view(
        HEAD + "  - {type: flatten, name: f, inputs: [input]}\n  - {type: dense, name: body, units: 4}\n"
        "  - {type: dense, name: out, units: 2, inputs: [body]}\n"
    )
    diff = compare(a, b)
    body = next(d for d in diff.layers if d.name == "body")
    assert body.status == CHANGED
    assert ("type", "conv2d", "dense") in [(c.field, c.a, c.b) for c in body.changes]
    fates = {f.key: f for f in diff.tensors}
    assert fates["body.kernel"].status == CHANGED
    assert "layer type conv2d -> dense" in fates["body.kernel"].reason
    assert fates["body.bias"].status == CHANGED  # same shape (4,), but a different layer's bias
    assert fates["out.kernel"].status == UNCHANGED  # same (4, 2) reading a 4-vector
    assert [d.name for d in diff.layers] == ["f", "body", "out"]  # B's order


def test_a_dense_kernel_whose_flattened_input_is_reordered_does_not_carry_over() -> None:
    # both flatten to 288 values, but 6x6x8 and 12x12x2 maps put different pixels in each row
    a = text_view(
        HEAD + "  - {type: conv2d, name: c, filters: 8, kernel_size: 3}\n  - {type: flatten, name: f}\n"
        "  - {type: dense, name: fc, units: 5}\n  - {type: batch_norm, name: bn}\n"
    )
    b = text_view(
        HEAD + "  - {type: conv2d, name: c, filters: 2, kernel_size: 3, padding: [[3, 3], [3, 3]]}\n"
        "  - {type: flatten, name: f}\n  - {type: dense, name: fc, units: 5}\n"
        "  - {type: batch_norm, name: bn}\n"
    )
    fates = {f.key: f for f in compare(a, b).tensors}
    assert fates["fc.kernel"].a_shape == fates["fc.kernel"].b_shape == (288, 5)
    assert fates["fc.kernel"].status == CHANGED
    assert "input changed: 6x6x8 -> 12x12x2" in fates["fc.kernel"].reason
    assert fates["fc.bias"].status == UNCHANGED
    assert fates["bn.gamma"].status == UNCHANGED  # its input, fc's output, is the same 5-vector
    assert fates["c.kernel"].status == CHANGED


def test_two_flattened_towers_joined_are_not_one_flattened_map() -> None:
    one = "  - {type: conv2d, name: c, filters: 4, kernel_size: 3}\n  - {type: flatten, name: f}\n"
    two = (
        "  - {type: conv2d, name: c, filters: 2, kernel_size: 3}\n  - {type: flatten, name: f1}\n"
        "  - {type: conv2d, name: c2, filters: 2, kernel_size: 3, inputs: [input]}\n  - {type: flatten, name: f2}\n"
        "  - {type: concatenate, name: f, inputs: [f1, f2]}\n"
    )
    tail = "  - {type: dense, name: fc, units: 3}\n"
    fates = {f.key: f for f in compare(text_view(HEAD + one + tail), text_view(HEAD + two + tail)).tensors}
    assert fates["fc.kernel"].a_shape == fates["fc.kernel"].b_shape == (144, 3)
    assert fates["fc.kernel"].status == CHANGED
    assert "6x6x4 -> 6x6x2 + 6x6x2" in fates["fc.kernel"].reason
    assert fates["c2.kernel"].status == NEW


def test_joined_vectors_keep_a_dense_kernel_when_the_layout_is_the_same() -> None:
    a = "  - {type: flatten, name: f}\n  - {type: dense, name: h, units: 6}\n  - {type: dense, name: out, units: 2}\n"
    b = (
        "  - {type: flatten, name: f}\n  - {type: dense, name: h1, units: 3}\n"
        "  - {type: dense, name: h2, units: 3, inputs: [f]}\n  - {type: concatenate, name: h, inputs: [h1, h2]}\n"
        "  - {type: dense, name: out, units: 2}\n"
    )
    fates = {f.key: f for f in compare(text_view(HEAD + a), text_view(HEAD + b)).tensors}
    assert fates["out.kernel"].status == UNCHANGED  # 6 features in, as one flat vector either way
    assert fates["h.kernel"].status == REMOVED
    assert fates["h1.kernel"].status == NEW


def test_json_and_markdown() -> None:
    result = compare(view(ALEXNET), view(PAPER))
    from alexgen.diff import to_json

    data = json.loads(to_json(result))
    assert data["totals"]["params"] == {"a": 62_378_344, "b": 60_965_224, "delta": -1_413_120}
    assert data["a"] == {"name": "alexnet", "path": str(ALEXNET)}
    norm1 = next(layer for layer in data["layers"] if layer["name"] == "norm1")
    assert norm1["status"] == "added" and norm1["a"] is None and norm1["b"]["output_shape"] == [55, 55, 96]
    kernel = next(w for w in data["weights"] if w["key"] == "conv2.kernel")
    assert kernel == {
        "key": "conv2.kernel",
        "status": "changed",
        "a_shape": [5, 5, 96, 256],
        "b_shape": [5, 5, 48, 256],
        "reason": "shape 5x5x96x256 -> 5x5x48x256: initialised as B says",
    }
    markdown = to_markdown(result)
    assert "| parameters | 62,378,344 | 60,965,224 | -1,413,120 |" in markdown
    assert "| conv2 | changed | conv2d | 27x27x256 | 614,656 | 307,456 | -307,200 | -223.9M |" in markdown
    assert "| `conv4.kernel` | changed | 3x3x384x384 | 3x3x192x384 |" in markdown
    assert "13 carry over unchanged (59,552,104 values)" in markdown


# --- the command line -----------------------------------------------------------------------------------


def test_cli_table(alexgen_cli) -> None:
    result = alexgen_cli("diff", "spec/alexnet.yaml", "spec/alexnet_paper.yaml")
    assert result.returncode == 0, result.stderr
    assert "-1,413,120" in result.stdout
    assert "conv2 settings: 5x5/1 same, relu -> 5x5/1 same, groups 2, relu" in result.stdout
    assert "changed  conv2.kernel: shape 5x5x96x256 -> 5x5x48x256" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 110


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_cli_formats(alexgen_cli, fmt: str) -> None:
    result = alexgen_cli("diff", "spec/alexnet_two_tower.yaml", "spec/alexnet_paper.yaml", "--format", fmt)
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        assert json.loads(result.stdout)["totals"]["params"]["delta"] == 0
    else:
        assert result.stdout.startswith("## alexnet_two_tower -> alexnet_paper\n")


def test_cli_reports_both_invalid_specs_and_exits_2(alexgen_cli, tmp_path: Path) -> None:
    bad_a, bad_b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    bad_a.write_text(HEAD + "  - {type: dense, unit: 10}\n")
    bad_b.write_text(HEAD + "  - {type: conv2d, filters: 4, kernel_size: 9}\n")
    result = alexgen_cli("diff", str(bad_a), str(bad_b))
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{bad_a}:5:19: error: layer 0 'dense_1': unknown key 'unit'" in result.stderr
    assert f"{bad_b}:5:" in result.stderr
    assert "Traceback" not in result.stderr


def test_diff_imports_no_framework_and_no_matplotlib() -> None:
    code = "\n".join(
        [
            "import sys",
            "from click.testing import CliRunner",
            "from alexgen.cli import cli",
            "for fmt in ('table', 'json', 'markdown'):",
            "    args = ['diff', 'spec/alexnet.yaml', 'spec/alexnet_paper.yaml', '--format', fmt]",
            "    result = CliRunner().invoke(cli, args)",
            "    assert result.exit_code == 0, result.output",
            "loaded = [m for m in ('torch', 'tensorflow', 'keras', 'matplotlib') if m in sys.modules]",
            "assert not loaded, loaded",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_cli_set_applies_to_both_and_set_a_b_to_one_side(alexgen_cli) -> None:
    one_side = alexgen_cli("diff", "spec/alexnet.yaml", "spec/alexnet.yaml", "--set-b", "num_classes=10",
                           "--format", "json")
    assert one_side.returncode == 0, one_side.stderr
    assert json.loads(one_side.stdout)["totals"]["params"]["delta"] == -(4096 + 1) * (1000 - 10)
    reverse = alexgen_cli("diff", "spec/alexnet.yaml", "spec/alexnet.yaml", "--set-a", "num_classes=10",
                          "--format", "json")
    assert json.loads(reverse.stdout)["totals"]["params"]["delta"] == (4096 + 1) * (1000 - 10)
    both = alexgen_cli("diff", "spec/alexnet.yaml", "spec/alexnet.yaml", "--set", "num_classes=10", "--format", "json")
    totals = json.loads(both.stdout)["totals"]["params"]
    assert (totals["delta"], totals["a"]) == (0, 62_378_344 - (4096 + 1) * 990)
    bad = alexgen_cli("diff", "spec/alexnet.yaml", "spec/alexnet.yaml", "--set-b", "layers.nope.units=3")
    assert bad.returncode == 2 and "--set layers.nope.units: no layer named 'nope'" in bad.stderr
