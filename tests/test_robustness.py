"""Hostile and broken input (issue 5): every case gets a located error, exit 2, no traceback and no file written;
spec text never reaches generated code except as escaped text; renders are atomic and never clobber edits.

`python tests/test_robustness.py` prints the table of docs/robustness.md from running every case.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from alexgen.cli import cli
from alexgen.diagnostics import SpecError
from alexgen.frameworks import import_source
from alexgen.render import HEADER_MARK, Output, RenderError, render_outputs, seal_intact, write_outputs
from alexgen.targets import keras as keras_target
from alexgen.targets import pytorch as pytorch_target
from alexgen.targets.common import BUILTINS, CONTENT_MARK
from alexgen.validate import graph_from_text

# Tests only guard against hangs; how fast each case is refused is measured in benchmarks/run.py.
HANG_GUARD = 20.0
ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "robustness.md"
HEADER = "alexgen: 1\nname: probe\ninput_shape: [32, 32, 3]\nlayers:\n"
NAME_HINT = ("names are ASCII identifiers: a letter, then letters, digits or underscores (the spec's own name is "
             "lower snake_case)")


def layers(*lines: str, header: str = HEADER, tail: str = "") -> str:
    """A spec: the header, one `  - ` line per layer, then `tail`."""
    return header + "".join(f"  - {line}\n" for line in lines) + tail


LAUGHS = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10))  # 10**10 strings once expanded


@dataclass(frozen=True)
class Case:
    """One hostile input: what the user gives, and the first error line they must see (at line:column)."""

    id: str
    what: str
    content: str | bytes
    message: str
    where: tuple[int, int]
    file: str = "spec.yaml"
    args: tuple[str, ...] = ()
    subprocess: bool = False  # run in a child process (a crash there must not take pytest down)


CASES = [
    # --- YAML itself -----------------------------------------------------------------------------------------
    Case("yaml-syntax", "YAML syntax error (unclosed `[`)", HEADER.replace("[32, 32, 3]", "[32, 32, 3") +
         "  - {type: flatten}\n", "YAML syntax error: expected ',' or ']', but got ':'", (4, 7)),
    Case("duplicate-key", "duplicate key in a layer", layers("{type: conv2d, filters: 8, kernel_size: 3, filters: 16}"),
         "duplicate key 'filters' (first given on line 5)", (5, 48)),
    Case("billion-laughs", "alias bomb: 9 levels of 10 aliases (10^10 nodes)", LAUGHS,
         "the document expands to more than 50000 nodes", (5, 5), subprocess=True),
    Case("deep-nesting", "100,000 nested `[`", "alexgen: 1\nlayers: " + "[" * 100_000 + "]" * 100_000 + "\n",
         "the document nests deeper than 40 levels", (2, 48), subprocess=True),
    Case("tabs", "YAML indented with a tab", HEADER + "\t- {type: flatten}\n",
         "YAML syntax error: found character '\\t' that cannot start any token", (5, 1)),
    Case("not-utf8", "Latin-1 bytes", HEADER.encode() + "  - {type: flatten, name: caf\u00e9}\n".encode("latin-1"),
         "the file is not valid UTF-8 (byte 0xe9)", (5, 30)),
    Case("empty", "an empty file", "", "the spec file is empty", (1, 1)),
    Case("json-array", "a JSON array at the top level", '[{"alexgen": 1, "name": "probe"}]\n',
         "the top level of a spec must be a mapping, not a list", (1, 1), file="spec.json"),
    Case("python-object", "`!!python/object/apply:os.system` as a layer",
         layers("{type: flatten}", "!!python/object/apply:os.system ['touch PWNED']"),
         "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed", (6, 5), subprocess=True),
    Case("python-name", "`!!python/name:os.system` as a value",
         HEADER.replace("alexgen: 1", "alexgen: !!python/name:os.system 1") + "  - {type: flatten}\n",
         "YAML tag 'tag:yaml.org,2002:python/name:os.system' is not allowed", (1, 10)),
    # --- values ----------------------------------------------------------------------------------------------
    Case("negative-size", "`filters: -8`", layers("{type: conv2d, filters: -8, kernel_size: 3}"),
         "layer 0 'conv2d_1': Input should be greater than 0 (got -8)", (5, 29)),
    Case("zero-size", "`kernel_size: 0`", layers("{type: conv2d, filters: 8, kernel_size: 0}"),
         "layer 0 'conv2d_1': Input should be greater than 0 (got 0)", (5, 45)),
    Case("zero-input", "`input_shape: [32, 0, 3]`", HEADER.replace("32, 3]", "0, 3]") + "  - {type: flatten}\n",
         "Input should be greater than 0 (got 0)", (3, 19)),
    Case("float-int", "`filters: 96.5`", layers("{type: conv2d, filters: 96.5, kernel_size: 3}"),
         "layer 0 'conv2d_1': expected an integer, got 96.5", (5, 29)),
    Case("bool-int", "`filters: true`", layers("{type: conv2d, filters: true, kernel_size: 3}"),
         "layer 0 'conv2d_1': expected a number, got the boolean true", (5, 29)),
    Case("nan-rate", "`rate: .nan`", layers("{type: flatten}", "{type: dropout, rate: .nan}"),
         "layer 1 'dropout_1': Input should be a finite number (got nan)", (6, 27)),
    Case("inf-rate", "`learning_rate: .inf`", layers("{type: flatten}", "{type: dense, units: 2}",
                                                    tail="training:\n  optimizer: {type: sgd, learning_rate: .inf}\n"),
         "Input should be a finite number (got inf)", (8, 41)),
    Case("dropout-one", "`rate: 1.0`", layers("{type: flatten}", "{type: dropout, rate: 1.0}"),
         "layer 1 'dropout_1': Input should be less than 1 (got 1.0)", (6, 27)),
    Case("dropout-negative", "`rate: -0.1`", layers("{type: flatten}", "{type: dropout, rate: -0.1}"),
         "layer 1 'dropout_1': Input should be greater than or equal to 0 (got -0.1)", (6, 27)),
    Case("pool-stride", "pooling `strides: 3` over `pool_size: 2`",
         layers("{type: max_pool2d, pool_size: 2, strides: 3}"),
         "layer 0 'max_pool2d_1': strides 3 are larger than pool_size 2: the pooling windows never read 1 of every 3 "
         "rows of the input", (5, 47)),
    Case("version", "`alexgen: 2`", HEADER.replace("alexgen: 1", "alexgen: 2") + "  - {type: flatten}\n",
         "unsupported spec format version 2", (1, 10)),
    # --- budgets ---------------------------------------------------------------------------------------------
    Case("filters-1e9", "`filters: 1000000000`", layers("{type: conv2d, filters: 1000000000, kernel_size: 3}"),
         "layer 0 'conv2d_1': Input should be less than or equal to 1000000 (got 1000000000)", (5, 29)),
    Case("input-huge", "`input_shape: [100000, 100000, 3]`",
         HEADER.replace("[32, 32, 3]", "[100000, 100000, 3]") + "  - {type: flatten}\n",
         "the input alone needs 111.8 GiB for one example (fp32), more than the activation budget of 16,384 MiB "
         "(--max-activation-mb)", (3, 14)),
    Case("activations-huge", "1,000,000 filters on 224x224",
         HEADER.replace("[32, 32, 3]", "[224, 224, 3]") + "  - {type: conv2d, filters: 1000000, kernel_size: 3, "
         "padding: same}\n", "layer 0 'conv2d_1': activations reach 186.9 GiB for one example (fp32), more than the "
         "budget of 16,384 MiB (--max-activation-mb)", (5, 29)),
    Case("params-huge", "dense of 1,000,000 units on 3,072 inputs", layers("{type: flatten}",
                                                                            "{type: dense, units: 1000000}"),
         "layer 1 'dense_1': the parameter count reaches 3,073,000,000, more than the budget of 2,000,000,000 "
         "(--max-params)", (6, 26)),
    Case("params-option", "`--max-params 1000` on a 7,425-parameter network",
         layers("{type: conv2d, filters: 8, kernel_size: 3}", "{type: flatten}", "{type: dense, units: 1}"),
         "layer 2 'dense_1': the parameter count reaches 7,425, more than the budget of 1,000 (--max-params)",
         (7, 26), args=("--max-params", "1000")),
    # --- names and strings -----------------------------------------------------------------------------------
    Case("name-newline", "`name: \"x\\nimport os; os.system('...')\"`",
         layers("{type: flatten, name: \"x\\nimport os; os.system('touch PWNED')\"}"),
         "layer 0 'x\\nimport os; os.system('touch PWNED')': \"x\\nimport os; os.system('touch PWNED')\" is not a "
         "valid name", (5, 27)),
    Case("name-quotes", "a name with quotes", layers("{type: flatten, name: \"a'b\\\"c\"}"),
         "layer 0 'a'b\"c': 'a\\'b\"c' is not a valid name", (5, 27)),
    Case("name-backslash", "a name with a backslash", layers('{type: flatten, name: "a\\\\b"}'),
         "layer 0 'a\\b': 'a\\\\b' is not a valid name", (5, 27)),
    Case("name-cyrillic", "Cyrillic `\u043e` in `c\u043env1`", layers("{type: flatten, name: c\u043env1}"),
         "layer 0 'c\u043env1': 'c\u043env1' is not a valid name", (5, 27)),
    Case("name-keyword", "`name: class`", layers("{type: flatten, name: class}"),
         "layer 0 'class': 'class' is a Python keyword", (5, 27)),
    Case("name-dunder", "`name: __init__`", layers("{type: flatten, name: __init__}"),
         "layer 0 '__init__': '__init__' is not a valid name", (5, 27)),
    Case("name-double-underscore", "`name: a__b`", layers("{type: flatten, name: a__b}"),
         "layer 0 'a__b': 'a__b' contains '__', which is reserved", (5, 27)),
    Case("spec-name-case", "`name: AlexNet` (not snake_case)", HEADER.replace("probe", "AlexNet") +
         "  - {type: flatten}\n", "'AlexNet' is not a valid name", (2, 7)),
    Case("spec-name-path", "`name: ../../evil` (would write outside --out)", HEADER.replace("probe", "../../evil") +
         "  - {type: flatten}\n", "'../../evil' is not a valid name", (2, 7)),
    Case("terminal-escape-key", "a key made of a terminal escape and a bidi override",
         layers('{type: flatten, "\\e[2J\\u202e": 1}'), "layer 0 'flatten_1': unknown key '\\x1b[2J\\u202e'", (5, 21)),
    Case("lone-surrogate", "`description: \"\\ud800\"`", HEADER + "  - {type: flatten}\ndescription: \"\\ud800\"\n",
         "the text holds a lone surrogate (half of a UTF-16 pair, e.g. from a \\ud800 escape), which no file can "
         "store", (6, 14)),
    # --- parameters ------------------------------------------------------------------------------------------
    Case("text-bomb", "30 parameters, each `\"${p}${p}\"` of the one before (16 GiB of text)",
         HEADER.replace("probe", "${p30}") + "  - {type: flatten}\nparams:\n  p0: xxxxxxxxxxxxxxxx\n" +
         "".join(f'  p{i}: "${{p{i - 1}}}${{p{i - 1}}}"\n' for i in range(1, 31)),
         "in parameter 'p10': the text grows past 10,000 characters", (17, 8), subprocess=True),
]


def run_case(case: Case, folder: Path) -> tuple[int, str, float]:
    """Write the case's spec in `folder`, render it into folder/out; exit code, stderr and seconds taken."""
    (folder / case.file).write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode())
    args = ["render", case.file, "--out", "out", *case.args]
    start = time.perf_counter()
    if case.subprocess:
        result = subprocess.run([sys.executable, "-m", "alexgen", *args], cwd=folder, capture_output=True, text=True,
                                check=False, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
        return result.returncode, result.stdout + result.stderr, time.perf_counter() - start
    old = Path.cwd()
    os.chdir(folder)
    try:
        outcome = CliRunner().invoke(cli, args)
    finally:
        os.chdir(old)
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        raise outcome.exception
    return outcome.exit_code, outcome.output, time.perf_counter() - start


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_is_a_located_error_and_writes_nothing(case: Case, tmp_path: Path) -> None:
    code, output, seconds = run_case(case, tmp_path)
    assert code == 2, output
    assert "Traceback" not in output
    line, column = case.where
    assert f"{case.file}:{line}:{column}: error: {case.message}" in output, output
    assert output.rstrip().endswith("nothing was written."), output
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "PWNED").exists(), "a tag or a name executed code"
    assert seconds < HANG_GUARD, seconds


def test_every_case_is_in_the_robustness_note() -> None:
    text = DOC.read_text(encoding="utf-8")
    for case in CASES:
        assert f"`{case.id}`" in text, case.id
        assert markdown_cell(case.message) in text, case.id


def test_the_alias_bomb_is_refused_fast_in_bounded_memory() -> None:
    start = time.perf_counter()
    with pytest.raises(SpecError, match="expands to more than"):
        graph_from_text(LAUGHS)
    assert time.perf_counter() - start < HANG_GUARD
    tracemalloc.start()  # measured apart: tracing slows Python down several times
    with pytest.raises(SpecError, match="expands to more than"):
        graph_from_text(LAUGHS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.1f} MiB"


def test_deep_nesting_never_reaches_a_recursive_parser() -> None:
    for text in ("a: " + "[" * 400_000 + "]" * 400_000, "- " * 400_000 + "x\n", "a: " + "{a: " * 200_000 + "1"):
        start = time.perf_counter()
        with pytest.raises(SpecError):
            graph_from_text(text)
        assert time.perf_counter() - start < HANG_GUARD


def test_tags_never_construct_anything(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    tags = [f"!!python/object/apply:os.system ['touch {marker}']", f"!!python/object/new:os.system ['touch {marker}']",
            "!!python/name:os.system x", "!!python/module:os x",
            f"!!python/object/apply:subprocess.call [[touch, {marker}]]"]
    for tag in tags:
        with pytest.raises(SpecError) as info:
            graph_from_text(layers("{type: flatten}", "{type: dense, units: " + tag + "}"))
        assert "is not allowed" in info.value.diagnostics[0].message
    assert not marker.exists()


def test_plain_equals_and_merge_scalars_are_text_not_a_crash() -> None:
    with pytest.raises(SpecError) as info:  # found by atheris: YAML 1.1 tags a plain `=` as !!value
        graph_from_text(layers("{type: dense, units: =}", "{type: activation, activation: <<}"))
    assert [d.format() for d in info.value.diagnostics] == [
        "<spec>:5:26: error: layer 0 'dense_1': Input should be a valid integer (got '=')",
        "<spec>:6:36: error: layer 1 'activation_1': invalid value '<<': expected 'relu', 'softmax', 'sigmoid', "
        "'tanh', 'linear'"]


def test_strides_larger_than_a_conv_kernel_warn_and_1x1_subsampling_does_not(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(layers("{type: conv2d, filters: 8, kernel_size: 3, strides: 4}",
                           "{type: conv2d, filters: 8, kernel_size: 1, strides: 2}", "{type: flatten}"))
    result = CliRunner().invoke(cli, ["analyze", str(spec), "--format", "json"])
    assert result.exit_code == 0
    assert (f"{spec}:5:57: warning: layer 0 'conv2d_1': strides 4 are larger than the kernel: this convolution never "
            "reads 1 of every 4 rows of its input") in result.output
    assert "conv2d_2" not in result.output.split("{")[0]


def test_budgets_are_options_and_the_arithmetic_stays_exact(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(HEADER.replace("[32, 32, 3]", "[100000, 100000, 3]") +
                    "  - {type: conv2d, filters: 1000000, kernel_size: 3}\n")
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["analyze", str(spec), "--format", "json", "--max-params", str(10**12),
                                      "--max-activation-mb", str(10**12)])
    assert time.perf_counter() - start < HANG_GUARD
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total_params"] == 27 * 10**6 + 10**6
    assert report["macs"] == 99998 * 99998 * 10**6 * 27  # 269,989,200,108,000,000: no float rounding
    refused = CliRunner().invoke(cli, ["analyze", str(spec), "--max-activation-mb", "16"])
    assert refused.exit_code == 2 and "more than the activation budget of 16 MiB" in refused.output


# --- names and strings never escape into generated code ---------------------------------------------------------

HOSTILE = [
    'x"""\nimport os; os.system("touch PWNED")\n"""',
    "x'''\nimport os\n'''",
    "\\\nimport os  # a trailing backslash joins lines\\",
    "{{ 7 * 7 }} {% for i in range(3) %}{{ i }}{% endfor %} {# comment #} {% raw %}",
    "NUL \x00 ESC \x1b[2J BEL \x07 DEL \x7f",
    "bidi \u202e}; os.system('x') \u2066 line separator \u2028 next line \x85 form feed \x0c",
    "a\r\nb\rc",
    "\ufeff\u200b zero-width and BOM",
    "c\u043env look-alike, emoji \U0001f600, \u00e9",
    "quote \" at the end\"",
]
HOSTILE_PATHS = ['spec\n"""\nimport os  #.yaml', "it's \"quoted\" $(rm -rf ~) `x`.yaml", "tab\there\\back.yaml",
                 "\u202eevil.yaml"]
SPEC_FOR_STRINGS = layers("{type: conv2d, name: c1, filters: 4, kernel_size: 3}", "{type: max_pool2d, name: p1}",
                          "{type: conv2d, name: c2, filters: 4, kernel_size: 3, padding: same, inputs: [c1]}",
                          "{type: max_pool2d, name: p2, inputs: [c2]}",
                          "{type: concatenate, name: cat, inputs: [p1, p2]}", "{type: flatten}",
                          "{type: dense, units: 3, activation: softmax}")


def without_docstrings(tree: ast.Module) -> str:
    """ast.dump with every docstring blanked: what the module does, not what it says."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value,
                                                                                                      str):
                first.value.value = ""
    return ast.dump(tree)


def rendered(description: str, path: str) -> dict[str, str]:
    """Both targets' modules for the test spec with this description and spec path (the spec hash pinned)."""
    text = SPEC_FOR_STRINGS + "description: " + json.dumps(description) + "\n"
    graph = graph_from_text(text, path)
    graph.sha256 = "0" * 64
    return {str(o.relative): o.text for o in render_outputs([(graph, path)], ["keras", "pytorch"])[3:]}


def statements(tree: ast.Module) -> list[tuple[str, str]]:
    """Top-level statements as (kind, name): imports, assignments, functions and classes."""
    found = []
    for node in tree.body:
        names = [a.asname or a.name for a in getattr(node, "names", [])] if isinstance(node, (ast.Import,
                                                                                           ast.ImportFrom)) else []
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [ast.unparse(t) for t in targets]
        found.append((type(node).__name__, ",".join(names)))
    return found


def test_hostile_descriptions_and_paths_only_ever_reach_docstrings_and_comments() -> None:
    baseline = rendered("A plain description.", "spec.yaml")
    trees = {name: ast.parse(text) for name, text in baseline.items()}
    for description, path in [(d, "spec.yaml") for d in HOSTILE] + [("plain", p) for p in HOSTILE_PATHS]:
        for name, text in rendered(description, path).items():
            assert all(c.isprintable() or c == "\n" for c in text), (name, description)
            tree = ast.parse(text)  # valid Python, whatever the text
            assert statements(tree) == statements(trees[name]), (name, description)
            assert without_docstrings(tree) == without_docstrings(ast.parse(baseline[name])), (name, description)
            imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            assert not imported & {"subprocess", "sys"}
            assert imported & {"os"} == {a.name for n in ast.walk(trees[name]) if isinstance(n, ast.Import)
                                         for a in n.names} & {"os"}  # the Keras module's log-level default only
            calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
            assert not calls & {"os.system", "eval", "exec", "__import__", "system"}
            header = text.split('"""', 1)[0]
            assert all(line.startswith("#") for line in header.splitlines() if line), (name, header)


def test_the_docstring_shows_control_characters_as_escapes() -> None:
    text = rendered("NUL \x00 ESC \x1b BIDI \u202e", "sp\x1bec\n.yaml")["keras/probe.py"]
    docstring = ast.get_docstring(ast.parse(text))
    assert "NUL \\x00 ESC \\x1b BIDI \\u202e" in docstring
    assert "Spec: sp\\x1bec\\n.yaml" in docstring
    assert "# Generated by alexgen 0.1.0 from sp\\x1bec\\n.yaml. DO NOT EDIT." in text
    assert "# regenerate with: alexgen render 'sp\\x1bec\\n.yaml' --target keras" in text


def write_spec(folder: Path, name: str, description: str = "one") -> Path:
    """A small valid spec file called `name`.yaml with that spec name."""
    path = folder / f"{name}.yaml"
    path.write_text(layers("{type: conv2d, filters: 2, kernel_size: 3}", "{type: flatten}",
                           header=HEADER.replace("probe", name)) + f"description: {description}\n")
    return path


@pytest.mark.parametrize(("first", "second", "cls"), [("alex_net", "alexnet", "AlexNet"),
                                                      ("alexnet_", "alexnet", "AlexNet"),
                                                      ("net_2", "net2", "Net2")])
def test_names_that_become_the_same_class_are_refused_together(tmp_path: Path, first: str, second: str,
                                                              cls: str) -> None:
    paths = [str(write_spec(tmp_path, first)), str(write_spec(tmp_path, second))]
    result = CliRunner().invoke(cli, ["render", *paths, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert (f"{paths[1]}:1:1: error: spec name '{second}' and '{first}' ({paths[0]}) both become the class "
            f"{cls}") in result.output
    assert not (tmp_path / "out").exists()


def test_a_spec_named_after_an_imported_module_is_refused(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "torch")
    result = CliRunner().invoke(cli, ["render", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "spec name 'torch' would shadow the module 'torch' that the generated code imports" in result.output


def _assigns(function: ast.FunctionDef, name: str) -> bool:
    """True when `function` assigns `name` (the function that builds the graph, whatever the template calls it)."""
    return any(isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
               for n in ast.walk(function))


def test_layer_names_that_shadow_builtins_or_generated_names_are_renamed() -> None:
    names = ["c0", "float", "print", "self", "x", "torch", "keras", "layers", "inputs", "model", "np", "json", "F",
             "super"]
    lines = [f"{{type: conv2d, name: {names[0]}, filters: 2, kernel_size: 1}}"]
    lines += [f"{{type: activation, name: {n}, activation: relu, inputs: [{p}]}}"
              for p, n in zip(names, names[1:], strict=False)]
    lines += [f"{{type: concatenate, name: cat, inputs: [c0, {names[-1]}]}}", "{type: flatten}",
              "{type: dense, name: out, units: 2}"]
    graph = graph_from_text(layers(*lines), "n.yaml")
    assert not graph.is_chain
    graph.sha256 = "0" * 64
    outputs = render_outputs([(graph, "n.yaml")], ["keras", "pytorch"])
    for output, target in zip(outputs[3:5], [keras_target, pytorch_target], strict=True):
        tree = ast.parse(output.text)
        body = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and _assigns(n, "c0"))
        assigned = {t.id for n in ast.walk(body) if isinstance(n, ast.Assign) for t in n.targets
                    if isinstance(t, ast.Name)}
        shadowing = {n for n in names if n in BUILTINS or n in target.RESERVED}
        assert {"float", "print", "super"} <= shadowing
        assert {f"{n}_" for n in shadowing} <= assigned, output.relative
    pytorch_module = import_source("shadowing_names_pytorch", outputs[4].text)
    torch = pytest.importorskip("torch")
    assert pytorch_module.build_model()(torch.zeros(1, 3, 32, 32)).shape == (1, 2)


# --- paths ------------------------------------------------------------------------------------------------------


def render_into(spec: Path, out: Path, *extra: str):
    """`alexgen render SPEC --out OUT` in process."""
    return CliRunner().invoke(cli, ["render", str(spec), "--out", str(out), *extra])


def test_a_missing_out_folder_is_created(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "c"
    result = render_into(write_spec(tmp_path, "probe"), out)
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.py")) == [
        "__init__.py", "keras/__init__.py", "keras/_support.py", "keras/probe.py", "pytorch/__init__.py",
        "pytorch/_support.py", "pytorch/probe.py"]


def test_out_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = render_into(write_spec(tmp_path, "probe"), blocker / "sub")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert f"error: cannot write {blocker / 'sub'}: Not a directory" in result.output
    assert blocker.read_text() == "x"


def test_out_in_a_read_only_place_is_a_clear_error(tmp_path: Path) -> None:
    result = render_into(write_spec(tmp_path, "probe"), Path("/sys/alexgen-out"))  # sysfs: not even root may
    assert result.exit_code == 2, result.output
    assert "error: cannot write /sys/alexgen-out: Operation not permitted" in result.output
    assert "Traceback" not in result.output


def test_out_in_a_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True,
                                 check=False)
        if mounted.returncode != 0:
            pytest.skip("root ignores permission bits and cannot bind-mount read-only here")
    else:
        folder.chmod(0o555)
    try:
        result = render_into(write_spec(tmp_path, "probe"), folder)
        assert result.exit_code == 2, result.output
        assert f"error: cannot write {folder}: " in result.output
        assert "Read-only file system" in result.output or "Permission denied" in result.output
        assert list(folder.iterdir()) == []
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], check=False)
        folder.chmod(0o755)


def test_no_output_can_leave_the_out_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    for relative in (Path("../escaped.py"), Path("keras/../../escaped.py"), tmp_path / "abs.py"):
        with pytest.raises(RenderError, match="would be written outside --out"):
            write_outputs([Output(relative, f"{HEADER_MARK}\n")], tmp_path / "out")
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    with pytest.raises(RenderError, match="would be written outside --out"):
        write_outputs([Output(Path("link/escaped.py"), f"{HEADER_MARK}\n")], tmp_path / "out")
    assert not list(tmp_path.glob("escaped.py")) and not (tmp_path / "abs.py").exists()


@pytest.mark.parametrize(("template", "message", "line"), [
    ("{{ 1 / 0 }}", "template keras/module.py.jinja raised ZeroDivisionError: division by zero", 3),
    ('{% include "missing.jinja" %}', "template not found: missing.jinja", 3),
    ("{% if %}", "template error: Expected an expression, got 'end of statement block'", 3),
    ("def broken(:", "ruff could not format the generated probe.py", 1),
])
def test_a_template_override_that_fails_is_located_and_writes_nothing(tmp_path: Path, template: str, message: str,
                                                                      line: int) -> None:
    override = tmp_path / "tpl" / "keras"
    override.mkdir(parents=True)
    (override / "module.py.jinja").write_text(f"# one\n# two\n{template}\n")
    result = render_into(write_spec(tmp_path, "probe"), tmp_path / "out", "--templates", str(tmp_path / "tpl"))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert message in result.output
    if line > 1:
        assert f"{override / 'module.py.jinja'}:{line}:1: error: " in result.output
    assert not (tmp_path / "out").exists()


# --- files ------------------------------------------------------------------------------------------------------

KILLER = """
import os, signal, sys
sys.path.insert(0, {root!r})
from alexgen.cli import main
real_replace, real_fsync, replaced = os.replace, os.fsync, []
def replace(source, target):
    real_replace(source, target)
    replaced.append(target)
    if {mode!r} == "after-rename" and len(replaced) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
def fsync(descriptor):
    real_fsync(descriptor)
    if {mode!r} == "before-rename" and len(replaced) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace, os.fsync = replace, fsync
sys.argv = ["alexgen", "render", {spec!r}, "--out", {out!r}]
main()
"""


@pytest.mark.parametrize("mode", ["after-rename", "before-rename"])
def test_an_interrupted_render_leaves_old_or_new_files_never_a_part(tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out"
    spec = write_spec(tmp_path, "probe", "one")
    assert render_into(spec, out).exit_code == 0
    old = {p: p.read_text() for p in out.rglob("*.py")}
    spec.write_text(spec.read_text().replace("description: one", "description: two"))
    graph = graph_from_text(spec.read_text(), str(spec))
    new = {out / o.relative: o.text for o in render_outputs([(graph, str(spec))], ["keras", "pytorch"])}
    killed = subprocess.run([sys.executable, "-c", KILLER.format(root=str(ROOT), mode=mode, spec=str(spec),
                                                                 out=str(out))], capture_output=True, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    after = {p: p.read_text() for p in out.rglob("*.py")}
    assert set(after) == set(old)
    assert all(after[p] in (old[p], new[p]) for p in after)
    changed = [p for p in after if after[p] != old[p]]
    assert len(changed) == 1, changed  # the first changed file was replaced; the killed render never got further
    leftovers = [p for p in out.rglob("*") if p.is_file() and p.suffix != ".py"]
    assert all(p.name.startswith(".") and p.name.endswith(".tmp") for p in leftovers), leftovers
    assert (mode == "before-rename") == bool(leftovers)
    assert render_into(spec, out).exit_code == 0  # the next render finishes the job and sweeps the leftovers
    assert {p: p.read_text() for p in out.rglob("*.py")} == new
    assert [p for p in out.rglob("*") if p.is_file() and p.suffix != ".py"] == []


def test_check_never_writes_even_a_missing_folder(tmp_path: Path) -> None:
    result = render_into(write_spec(tmp_path, "probe"), tmp_path / "out", "--check")
    assert result.exit_code == 1
    assert not (tmp_path / "out").exists()


def test_a_generated_file_edited_by_hand_is_not_overwritten_silently(tmp_path: Path) -> None:
    spec, out = write_spec(tmp_path, "probe"), tmp_path / "out"
    assert render_into(spec, out).exit_code == 0
    module = out / "pytorch" / "probe.py"
    original = module.read_text()
    assert seal_intact(original) is True
    assert original.splitlines()[3].startswith(CONTENT_MARK)
    edited = original.replace("return x", "return x * 2  # my fix")
    module.write_text(edited)
    assert seal_intact(edited) is False
    spec.write_text(spec.read_text().replace("description: one", "description: two"))
    result = render_into(spec, out)
    assert result.exit_code == 2
    assert (f"error: {module} was edited after alexgen generated it (its content no longer matches the sha256 in "
            "its header)") in result.output
    assert "hint: keep your changes elsewhere (a --templates override), or pass --force to overwrite them" in \
        result.output
    assert module.read_text() == edited
    assert "one" in (out / "keras" / "probe.py").read_text(), "nothing is written when one file is refused"
    assert render_into(spec, out, "--force").exit_code == 0
    assert seal_intact(module.read_text()) is True and "my fix" not in module.read_text()


def test_files_from_before_the_content_digest_are_still_replaced(tmp_path: Path) -> None:
    spec, out = write_spec(tmp_path, "probe"), tmp_path / "out"
    assert render_into(spec, out).exit_code == 0
    module = out / "keras" / "probe.py"
    module.write_text("".join(line for line in module.read_text().splitlines(True)
                              if not line.startswith(CONTENT_MARK)) + "# old\n")
    assert seal_intact(module.read_text()) is None
    assert render_into(spec, out).exit_code == 0
    assert seal_intact(module.read_text()) is True


def test_many_errors_are_counted_but_only_the_first_hundred_printed(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(layers(*[f"{{type: flatten, inputs: [missing{i}]}}" for i in range(150)]))
    result = CliRunner().invoke(cli, ["analyze", str(spec)])
    assert result.exit_code == 2
    assert result.output.count(": error: ") == 100
    assert "... and 50 more not shown." in result.output
    assert result.output.rstrip().endswith("150 errors found.")


@pytest.mark.parametrize("kind", ["unknown inputs", "cycle", "forward references", "duplicates"])
def test_thousands_of_bad_layers_are_diagnosed_in_about_a_second(kind: str) -> None:
    count = 4000
    line = {"unknown inputs": "{{type: flatten, name: l{i}, inputs: [zz{i}]}}",
            "cycle": "{{type: flatten, name: l{i}, inputs: [l{j}]}}",
            "forward references": "{{type: flatten, name: l{i}, inputs: [l{last}]}}",
            "duplicates": "{{type: flatten, name: same}}"}[kind]
    text = layers(*[line.format(i=i, j=(i + 1) % count, last=count - 1) for i in range(count)])
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        graph_from_text(text)
    assert time.perf_counter() - start < HANG_GUARD
    assert len(info.value.diagnostics) >= count - 1


# --- the note ---------------------------------------------------------------------------------------------------


def markdown_cell(text: str) -> str:
    """Text as it appears inside a Markdown table cell (pipes escaped, code spans kept whole)."""
    return text.replace("|", "\\|")


def table() -> str:
    """The table of docs/robustness.md: each case run for real, its first error line as the user sees it."""
    import tempfile

    rows = ["| case | input | what the user sees (stderr) | exit |", "|---|---|---|---|"]
    for case in CASES:
        with tempfile.TemporaryDirectory() as folder:
            code, output, _ = run_case(case, Path(folder))
        lines = [line for line in output.splitlines() if ": error: " in line or line.startswith("    hint:")][:2]
        seen = "<br>".join(f"`` {markdown_cell(line.strip())} ``" for line in lines)
        rows.append(f"| `{case.id}` | {markdown_cell(case.what)} | {seen} | {code} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(textwrap.dedent(table()))
