"""Composition: params and `${...}`, --set, extends with layer edits, repeat blocks; every error located."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SPEC_DIR, position

from alexgen import report
from alexgen.compose import resolve_file, resolve_text
from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.expr import ExprError, evaluate
from alexgen.loader import _Yaml12Resolver
from alexgen.render import environment, format_source, render_module
from alexgen.validate import graph_from_text, load_graph

FLAT = ROOT / "tests" / "specs" / "flat"
VARIANTS = ["alexnet", "alexnet_bn", "alexnet_bn_l2"]

BASE = """\
alexgen: 1
name: small
params:
  num_classes: 10
  width: 8
  rate: 0.5
input_shape: [32, 32, 3]
layers:
  - {type: conv2d, name: conv1, filters: "${width}", kernel_size: 3, activation: relu}
  - {type: conv2d, name: conv2, filters: "${width * 2}", kernel_size: 3, activation: relu}
  - {type: flatten, name: flatten}
  - {type: dense, name: fc, units: 64, activation: relu}
  - {type: dropout, name: drop, rate: "${rate}"}
  - {type: dense, name: predictions, units: "${num_classes}", activation: softmax}
training:
  optimizer: {type: sgd, learning_rate: 0.01}
"""


def write(folder: Path, files: dict[str, str]) -> None:
    """Write dedented spec files into a folder."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))


def errors_of(path: Path, sets: tuple[str, ...] = ()) -> list[Diagnostic]:
    """The errors of a spec that must be invalid."""
    with pytest.raises(SpecError) as info:
        load_graph(path, path.name, sets=sets)
    return [d for d in info.value.diagnostics if d.level == "error"]


def text_errors(text: str, sets: tuple[str, ...] = ()) -> list[Diagnostic]:
    """The errors of spec text that must be invalid."""
    with pytest.raises(SpecError) as info:
        graph_from_text(textwrap.dedent(text), "probe.yaml", sets=sets)
    return [d for d in info.value.diagnostics if d.level == "error"]


def flat_data(name: str) -> dict:
    """A committed flat copy as data (YAML 1.2 floats, anchors expanded)."""
    return yaml.load((FLAT / f"{name}.yaml").read_text(), Loader=_Yaml12Resolver)  # noqa: S506 (a SafeLoader)


# --- the bundled variants resolve to the flat specs they replaced -------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_resolves_to_its_committed_flat_copy(name: str) -> None:
    resolved = resolve_file(SPEC_DIR / f"{name}.yaml", f"spec/{name}.yaml")
    assert "layers" not in yaml.safe_load((SPEC_DIR / f"{name}.yaml").read_text())  # really a variant
    assert resolved.data == flat_data(name)
    assert [f.path for f in resolved.files] == [f"spec/{name}.yaml", "spec/alexnet_plain.yaml"]


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_analysis_and_generated_bodies_equal_the_flat_specs(name: str) -> None:
    variant = load_graph(SPEC_DIR / f"{name}.yaml", f"spec/{name}.yaml")
    flat = load_graph(FLAT / f"{name}.yaml", f"spec/{name}.yaml")
    assert report.to_json(variant) == report.to_json(flat)
    assert variant.sha256 != flat.sha256
    env = environment()
    assert variant.origin is not None
    values = {p.name: p.value for p in variant.origin.resolved.params}
    for target in ("keras", "pytorch"):
        ours, theirs = (render_module(g, target, env, f"spec/{name}.yaml") for g in (variant, flat))
        assert " spec/alexnet_plain.yaml\n" in ours.split('"""', 1)[0]  # the header lists the base
        assert " spec/alexnet_plain.yaml\n" not in theirs.split('"""', 1)[0]
        ours_body, theirs_body = without_arguments(ours, values), theirs.split('"""', 1)[1]
        assert ours_body.replace(variant.sha256, flat.sha256) == theirs_body  # the weights metadata has the hash


def without_arguments(source: str, values: dict[str, object]) -> str:
    """A generated module after its header, with the spec's parameters written back as their values: no keyword
    arguments, no docstring paragraph about them (what the flat spec, which has no parameters, renders)."""
    _, doc, code = source.split('"""', 2)
    doc = re.sub(r"\n\nParameters: build_model\(.*?these defaults\.\n", "\n", doc, flags=re.S)
    names = "|".join(values)
    code = re.sub(rf"\b(?:{names}): (?:int|float) = [\w.]+,?\s*", "", code)
    code = re.sub(rf"\b({names})=\1,?\s*", "", code)
    code = re.sub(r",?\s*\*,\s*\)", ")", code)
    code = re.sub(rf"\b({names})\b", lambda m: repr(values[m.group(1)]), code)
    return format_source(f'"""{doc}"""{code}').split('"""', 1)[1]


def test_resolve_command_output_reads_back_as_the_same_spec(alexgen_cli, tmp_path: Path) -> None:
    for fmt in ("yaml", "json"):
        result = alexgen_cli("resolve", "spec/alexnet_bn_l2.yaml", "--format", fmt)
        assert result.returncode == 0, result.stderr
        (tmp_path / f"flat.{fmt}").write_text(result.stdout)
        graph = load_graph(tmp_path / f"flat.{fmt}")
        assert report.to_json(graph) == report.to_json(load_graph(FLAT / "alexnet_bn_l2.yaml"))
    assert result.stdout.startswith('{\n  "alexgen": 1,')
    yaml_text = (tmp_path / "flat.yaml").read_text()
    assert "# resolved by alexgen from spec/alexnet_bn_l2.yaml, spec/alexnet_plain.yaml" in yaml_text
    assert "  - {type: dense, name: fc8, units: 1000, kernel_regularizer: {l2: 0.0002}}" in yaml_text


def test_bundled_variants_resolve_from_the_wheel_layout(tmp_path: Path) -> None:
    data = tmp_path / "site-packages" / "alexgen" / "_data" / "spec"  # pyproject force-includes spec/ here
    shutil.copytree(SPEC_DIR, data)
    for name in VARIANTS:
        assert resolve_file(data / f"{name}.yaml").data == flat_data(name)


def test_resolve_params_lists_defaults_values_and_fields(alexgen_cli) -> None:
    result = alexgen_cli("resolve", "spec/alexnet.yaml", "--params", "--set", "num_classes=10")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert [f["path"] for f in info["files"]] == ["spec/alexnet.yaml", "spec/alexnet_plain.yaml"]
    params = {p["name"]: p for p in info["params"]}
    assert params["num_classes"] | {"declared_at": None} == {
        "name": "num_classes",
        "type": "int",
        "default": 1000,
        "value": 10,
        "declared_at": None,
        "fields": ["layers.13.units"],
    }
    assert params["num_classes"]["declared_at"] == "spec/alexnet_plain.yaml:8"
    assert params["dropout"]["fields"] == ["layers.10.rate", "layers.12.rate"]


# --- parameters -------------------------------------------------------------------------------------------


def test_params_keep_types_and_flow_into_fields() -> None:
    resolved = resolve_text(BASE + 'description: "${width} wide, ${num_classes} classes, $${literal}"\n')
    layers = resolved.data["layers"]
    assert layers[0]["filters"] == 8 and layers[1]["filters"] == 16 and layers[5]["units"] == 10
    assert layers[4]["rate"] == 0.5 and type(layers[4]["rate"]) is float
    assert resolved.data["description"] == "8 wide, 10 classes, ${literal}"
    assert "params" not in resolved.data
    fields = {p.name: p.fields for p in resolved.params}
    assert fields["width"] == [("layers", 0, "filters"), ("layers", 1, "filters"), ("description",)]


def test_a_param_default_may_use_another_param_and_set_overrides_flow_through() -> None:
    text = BASE.replace("  rate: 0.5\n", "  rate: 0.5\n  hidden: ${width * 8}\n").replace(
        "units: 64", 'units: "${hidden}"'
    )
    assert resolve_text(text).data["layers"][3]["units"] == 64
    resolved = resolve_text(text, sets=("width=4", "rate=0", "num_classes=3"))
    layers = resolved.data["layers"]
    assert (layers[0]["filters"], layers[3]["units"], layers[5]["units"]) == (4, 32, 3)
    assert layers[4]["rate"] == 0.0 and type(layers[4]["rate"]) is float  # an integer is a valid float
    assert ("layers", 3, "units") in {p.name: p for p in resolved.params}["width"].fields


def test_evaluator_arithmetic() -> None:
    values = {"a": 7, "b": 2}
    lookup = lambda name, offset: values[name]  # noqa: E731
    assert evaluate("a * b + 1", lookup) == 15
    assert evaluate("(a + 1) // b - -3", lookup) == 7
    assert evaluate("a % b * (2 + 2)", lookup) == 4


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("width.__class__", "unexpected '.'"),
        ("__import__(os)", "calls are not allowed ('__import__(...)')"),
        ("__import__('os')", 'unexpected "\'"'),
        ("open(1)", "calls are not allowed"),
        ("width ** 2", "unexpected '*'"),
        ("width / 2", "unexpected '/'"),
        ("width[0]", "unexpected '['"),
        ("", "the expression is empty"),
        ("width // 0", "division by zero"),
        ("rate * 2", "'*' needs integers, got a number with a fraction (0.5)"),
        ("widht", "undefined parameter 'widht'"),
        ("width * 1000000 * 1000000 * 1000000", "the value exceeds"),
        ("((((((((((((((((((((((width))))))))))))))))))))))", "nests deeper than 20"),
    ],
)
def test_bad_expressions_are_located_errors(expression: str, message: str) -> None:
    text = BASE.replace('filters: "${width * 2}"', f'filters: "${{{expression}}}"')
    found = text_errors(text)
    assert len(found) == 1, found
    assert message in found[0].message
    assert (found[0].file, found[0].line) == ("probe.yaml", 10)
    if expression == "widht":
        assert found[0].hint == "did you mean 'width'?"


def test_expression_errors_never_evaluate_python() -> None:
    with pytest.raises(ExprError, match="calls are not allowed"):
        evaluate("exit(3)", lambda name, offset: 0)


@pytest.mark.parametrize(
    ("change", "message", "where"),
    [
        (("  rate: 0.5\n", "  rate: 0.5\n  spare: 3\n"), "parameter 'spare' is never used", "spare:"),
        (
            ("  rate: 0.5\n", "  rate: 0.5\n  a: ${b}\n  b: ${a + 1}\n"),
            "parameters depend on each other in a cycle: a -> b -> a",
            "${b}",
        ),
        (("  rate: 0.5\n", "  rate: 0.5\n  bad: [1]\n"), "parameter 'bad' needs a default", "[1]"),
        (("  rate: 0.5\n", "  rate: 0.5\n  layers: 3\n"), "'layers' cannot name a parameter", "layers: 3"),
        (("  rate: 0.5\n", "  rate: 0.5\n  Width: 3\n"), "'Width' cannot name a parameter", "Width"),
        (("units: 64", 'units: "${wdith}"'), "undefined parameter 'wdith'", '"${wdith}"'),
        (("units: 64", 'units: "${width"'), "'${' without a matching '}'", '"${width"'),
    ],
)
def test_param_problems_are_located(change: tuple[str, str], message: str, where: str) -> None:
    text = BASE.replace(*change)
    found = text_errors(text)
    assert any(message in d.message for d in found), found
    hit = next(d for d in found if message in d.message)
    assert (hit.line, hit.column) == position(text, where)


def test_a_value_of_the_wrong_type_is_validated_like_a_literal() -> None:
    text = BASE.replace("units: 64", 'units: "${rate}"')
    found = text_errors(text)
    assert len(found) == 1 and "expected an integer, got 0.5" in found[0].message
    assert (found[0].line, found[0].column) == position(text, '"${rate}"')


def test_a_billion_filters_from_a_param_is_refused_like_a_literal() -> None:
    found = text_errors(BASE, sets=("width=500000000",))
    assert any("less than or equal to 1000000" in d.message and d.line == 9 for d in found), found
    assert "from width=500000000" in next(d.hint for d in found if d.line == 9)
    found = text_errors(BASE, sets=("width=100000",))  # within the size limit, over the parameter budget
    assert any("parameter count" in d.message for d in found), found


# --- --set ---------------------------------------------------------------------------------------------------


def test_set_fields_by_path() -> None:
    data = resolve_text(
        BASE,
        sets=(
            "layers.fc.units=2048",
            "training.optimizer.learning_rate=0.001",
            "input_shape.0=64",
            "layers.3.activation=tanh",
            "training.optimizer.momentum=0.9",
            "layers.fc.units=${width * 3}",
        ),
    ).data
    assert data["layers"][3] == {"type": "dense", "name": "fc", "units": 24, "activation": "tanh"}
    assert data["training"]["optimizer"] == {"type": "sgd", "learning_rate": 0.001, "momentum": 0.9}
    assert data["input_shape"] == [64, 32, 3]


@pytest.mark.parametrize(
    ("item", "message", "hint"),
    [
        ("layers.fc6.units=1", "no layer named 'fc6'", "did you mean 'fc'?"),
        ("input_shape.3=4", "index 3 is out of range ('input_shape' has 3 items)", "give a position from 0 to 2"),
        ("layers.99.units=4", "index 99 is out of range ('layers' has 6 items)", None),
        ("layers.fc.untis=3", "layers.fc has no key 'untis'", "did you mean 'units'?"),
        ("num_clases=3", "the spec has no key 'num_clases'", "did you mean 'num_classes'?"),
        ("trainig.batch_size=3", "the spec has no key 'trainig'", "did you mean 'training'?"),
        ("layers.fc.units.x=3", "is a single value (64), it has no 'x'", None),
        ("params.widht=3", "unknown parameter 'widht'", "did you mean 'width'?"),
        ("width=wide", "parameter 'width' is an integer, got 'wide'", None),
        ("nothing", "is not KEY=VALUE", None),
        ("layers..units=1", "is not a dotted path", None),
        ("layers.fc.units=[1, 2", "YAML syntax error", None),
        ("layers.fc.units=!!python/object:os.system x", "YAML tag", None),
    ],
)
def test_bad_sets_are_errors_at_the_option(item: str, message: str, hint: str | None) -> None:
    found = text_errors(BASE, sets=("rate=0.25", item))
    assert len(found) == 1, found
    assert message in found[0].message
    assert (found[0].file, found[0].line) == ("--set", 2)
    if hint:
        assert found[0].hint == hint


def test_set_takes_lists_and_mappings_as_values() -> None:
    data = resolve_text(BASE, sets=("input_shape=[64, 48, 3]", "training.optimizer={type: adam, learning_rate: 0.01}"))
    assert data.data["input_shape"] == [64, 48, 3]
    assert data.data["training"]["optimizer"] == {"type": "adam", "learning_rate": 0.01}
    found = text_errors(BASE, sets=("input_shape=[64, 48]",))
    assert len(found) == 1 and (found[0].file, found[0].line) == ("--set", 1), found


def test_set_values_are_validated_like_the_file() -> None:
    found = text_errors(BASE, sets=("layers.conv1.padding=samee",))
    assert len(found) == 1 and "invalid value 'samee'" in found[0].message
    assert (found[0].file, found[0].line, found[0].column) == ("--set", 1, 22)


def test_set_on_analyze_render_and_resolve(alexgen_cli, tmp_path: Path) -> None:
    write(tmp_path, {"small.yaml": BASE})
    result = alexgen_cli("analyze", "small.yaml", "--format", "json", "--set", "num_classes=3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output_shape"] == [3]
    result = alexgen_cli("render", "small.yaml", "--out", "gen", "--set", "layers.fc.units=5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '("fc", nn.Linear(12544, 5))' in (tmp_path / "gen" / "pytorch" / "small.py").read_text()
    result = alexgen_cli("analyze", "small.yaml", "--set", "layers.fc9.units=5", cwd=tmp_path)
    assert result.returncode == 2 and "--set:1:1: error: --set layers.fc9.units: no layer named 'fc9'" in result.stderr
    assert "Traceback" not in result.stderr
    for command in ("check", "convert-weights", "resolve"):
        assert "--set KEY=VALUE" in alexgen_cli(command, "--help").stdout


@pytest.mark.keras
@pytest.mark.torch
def test_check_passes_with_a_set_param(alexgen_cli, tmp_path: Path) -> None:
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    write(tmp_path, {"small.yaml": BASE})
    result = alexgen_cli(
        "check", "small.yaml", "--format", "json", "--set", "num_classes=3", "--set", "width=2", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["passed"]


# --- extends and edits ------------------------------------------------------------------------------------


def test_chain_of_variants_with_every_edit(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "base/small.yaml": BASE,
            "mid.yaml": """\
        alexgen: 1
        extends: base/small.yaml
        name: mid
        params: {num_classes: 5}
        remove: [drop]
        insert_before:
          flatten: {type: max_pool2d, name: pool, pool_size: 2}
        """,
            "top.yaml": """\
        alexgen: 1
        extends: mid.yaml
        name: top
        replace:
          conv2: {type: conv2d, filters: 4, kernel_size: 1}
        update:
          fc: {units: 32}
        insert_after:
          fc: [{type: batch_norm, name: bn}, {type: dropout, name: drop2, rate: "${rate}"}]
        training: {optimizer: {type: adam}}
        """,
        },
    )
    resolved = resolve_file(tmp_path / "top.yaml", "top.yaml")
    data = resolved.data
    assert [layer["name"] for layer in data["layers"]] == [
        "conv1",
        "conv2",
        "pool",
        "flatten",
        "fc",
        "bn",
        "drop2",
        "predictions",
    ]
    assert data["layers"][1] == {"type": "conv2d", "filters": 4, "kernel_size": 1, "name": "conv2"}
    assert data["layers"][4]["units"] == 32 and data["layers"][-1]["units"] == 5
    assert data["name"] == "top" and data["training"] == {"optimizer": {"type": "adam"}}
    assert [f.path for f in resolved.files] == ["top.yaml", "mid.yaml", "base/small.yaml"]
    # a problem in a layer the base defines is reported in the base file
    found = errors_of(tmp_path / "top.yaml", sets=("layers.conv1.kernel_size=99",))
    assert [(d.file, d.line) for d in found] == [("--set", 1)]
    (tmp_path / "base" / "small.yaml").write_text(
        BASE.replace(
            "kernel_size: 3, activation: relu}\n  - {type: conv2d",
            "kernel_size: 3, activation: rellu}\n  - {type: conv2d",
        )
    )
    found = errors_of(tmp_path / "top.yaml")
    assert [(d.file, d.line) for d in found] == [("base/small.yaml", 9)] and "rellu" in found[0].message


@pytest.mark.parametrize(
    ("files", "message", "where"),
    [
        ({"a.yaml": "alexgen: 1\nextends: a.yaml\n"}, "a.yaml extends itself", ("a.yaml", 2)),
        (
            {"a.yaml": "alexgen: 1\nextends: b.yaml\n", "b.yaml": "alexgen: 1\nextends: a.yaml\n"},
            "b.yaml is part of a cycle: a.yaml -> b.yaml -> a.yaml",
            ("b.yaml", 2),
        ),
        ({"a.yaml": "alexgen: 1\nextends: missing.yaml\n"}, "base spec not found: missing.yaml", ("a.yaml", 2)),
        ({"a.yaml": "alexgen: 1\nextends: /etc/passwd.yaml\n"}, "must be a relative path", ("a.yaml", 2)),
        ({"a.yaml": "alexgen: 1\nextends: small.txt\n"}, "is not a spec file", ("a.yaml", 2)),
        ({"a.yaml": "alexgen: 1\nextends: [small.yaml]\n"}, "`extends:` needs the path", ("a.yaml", 2)),
    ],
)
def test_bad_bases_are_located(tmp_path: Path, files: dict[str, str], message: str, where: tuple[str, int]) -> None:
    write(tmp_path, {"small.yaml": BASE, **files})
    found = errors_of(tmp_path / "a.yaml")
    assert len(found) == 1 and message in found[0].message, found
    assert (found[0].file, found[0].line) == where


def test_a_long_chain_of_bases_is_bounded(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "small.yaml": BASE,
            **{f"v{i}.yaml": f"alexgen: 1\nextends: v{i + 1}.yaml\n" for i in range(9)},
            "v9.yaml": "alexgen: 1\nextends: small.yaml\n",
        },
    )
    found = errors_of(tmp_path / "v0.yaml")
    assert "the chain of bases is longer than 8 files" in found[0].message


@pytest.mark.parametrize(
    ("edit", "message", "where", "hint"),
    [
        ("remove: [fc6]", "`remove:` names layer 'fc6', which small.yaml does not define", "fc6", "did you mean 'fc'?"),
        (
            "update: {conv3: {filters: 4}}",
            "`update:` names layer 'conv3', which small.yaml does not define",
            "conv3",
            "did you mean 'conv2'?",
        ),
        (
            "insert_after: {fc: {type: dense, name: conv1, units: 3}}",
            "duplicate layer name 'conv1'",
            "conv1, units",
            None,
        ),
        (
            "remove: [fc]\ninsert_after: {fc: {type: dropout}}",
            "`insert_after:` names layer 'fc', which the edit at a.yaml:3 removes",
            "fc: {type: dropout",
            None,
        ),
        (
            "replace: {fc: {type: dense, units: 3}}\nupdate: {fc: {units: 3}}",
            "layer 'fc' is edited twice (also at a.yaml:3)",
            "fc: {units",
            None,
        ),
        ("update: {fc: {name: fc2}}", "`update:` cannot rename a layer", "fc2", None),
        (
            "remove: drop\nlayers: []",
            "`remove:` edits the base's layers, but this file also gives `layers:`",
            "remove",
            None,
        ),
        ("insert_after: {fc: 3}", "`insert_after:` needs a layer", "3}", None),
    ],
)
def test_bad_edits_are_located_at_the_edit(
    tmp_path: Path, edit: str, message: str, where: str, hint: str | None
) -> None:
    text = f"alexgen: 1\nextends: small.yaml\n{edit}\n"
    write(tmp_path, {"small.yaml": BASE, "a.yaml": text})
    found = errors_of(tmp_path / "a.yaml")
    assert any(message in d.message for d in found), found
    hit = next(d for d in found if message in d.message)
    assert (hit.file, hit.line, hit.column) == ("a.yaml", *position(text, where))
    if hint:
        assert hit.hint == hint


def test_a_dangling_input_names_the_edit_and_the_base_line(tmp_path: Path) -> None:
    base = BASE.replace("name: fc, units: 64", "name: fc, units: 64, inputs: [flatten]")
    text = "alexgen: 1\nextends: small.yaml\nremove:\n  - drop\n  - flatten\n"
    write(tmp_path, {"small.yaml": base, "a.yaml": text})
    found = errors_of(tmp_path / "a.yaml")
    assert len(found) == 1, found
    assert (found[0].file, found[0].line, found[0].column) == ("a.yaml", 5, 5)
    assert found[0].message == (
        "this edit removes layer 'flatten' (defined at small.yaml:11), but layer 'fc' (small.yaml:12) still reads it"
    )


def test_edits_need_extends() -> None:
    found = text_errors(BASE + "remove: [drop]\n")
    assert len(found) == 1 and found[0].message.startswith("`remove:` edits a base spec's layers, but this file has no")
    assert found[0].line == 17


# --- repeat -----------------------------------------------------------------------------------------------


REPEAT = """\
alexgen: 1
name: rep
params: {n: 3}
input_shape: [16, 16, 3]
layers:
  - repeat: ${n}
    layers:
      - {type: conv2d, name: "conv{i}", filters: 4, kernel_size: 3, padding: same}
      - {type: batch_norm, name: "bn{i}"}
  - {type: flatten}
  - {type: dense, units: 2}
"""


def test_repeat_expands_with_the_index_in_names() -> None:
    names = [layer.get("name") for layer in resolve_text(REPEAT).data["layers"]]
    assert names == ["conv1", "bn1", "conv2", "bn2", "conv3", "bn3", None, None]
    assert len(resolve_text(REPEAT, sets=("n=1",)).data["layers"]) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("repeat: ${n}", "repeat: 0"), "`repeat:` needs a count from 1 to 1000, got 0"),
        (("repeat: ${n}", "repeat: 1001"), "`repeat:` needs a count from 1 to 1000, got 1001"),
        (("repeat: ${n}", "repeat: two"), "`repeat:` needs a count from 1 to 1000, got 'two'"),
        (("    layers:\n", "    times: 2\n    layers:\n"), "unknown key 'times' in a repeat block"),
        (
            ("      - {type: batch_norm", "      - {repeat: 2, layers: []}\n      - {type: batch_norm"),
            "repeat blocks do not nest",
        ),
    ],
)
def test_bad_repeats_are_located(change: tuple[str, str], message: str) -> None:
    text = (
        REPEAT.replace(*change).replace("params: {n: 3}\n", "")
        if "${n}" not in REPEAT.replace(*change)
        else REPEAT.replace(*change)
    )
    found = text_errors(text)
    assert any(message in d.message for d in found), found


def test_repeat_expansion_is_bounded() -> None:
    text = REPEAT.replace("params: {n: 3}\n", "").replace("repeat: ${n}", "repeat: 1000")
    block = "  - repeat: 1000\n    layers: [{type: batch_norm}, {type: batch_norm}, {type: batch_norm}]\n"
    text = text.replace("  - {type: flatten}", block * 3 + "  - {type: flatten}")
    found = text_errors(text)
    assert any("expands beyond 10000 layers" in d.message for d in found), found


# --- the examples of docs/spec.md ---------------------------------------------------------------------------


def test_the_documented_variant_examples_resolve(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "spec.md").read_text()
    blocks = re.findall(r"```yaml\n# file: (\S+)\n(.*?)```", doc, flags=re.S)
    assert [name for name, _ in blocks] == ["small.yaml", "variant.yaml", "vgg_blocks.yaml"]
    write(tmp_path, dict(blocks))
    small = load_graph(tmp_path / "small.yaml", "small.yaml")
    assert small.node("fc").params == (28 * 28 * 32) * 128 + 128
    assert small.spec.description == "A 16-wide network for 10 classes"
    variant = resolve_file(tmp_path / "variant.yaml", "variant.yaml")
    names = [layer["name"] for layer in variant.data["layers"]]
    assert names == ["conv1", "bn1", "conv2", "bn2", "pool2", "flatten", "fc", "logits", "predictions"]
    assert variant.data["layers"][7]["units"] == 5 and variant.data["layers"][0]["kernel_initializer"] == "he_normal"
    assert load_graph(tmp_path / "variant.yaml").output.shape == (5,)
    blocks_graph = load_graph(tmp_path / "vgg_blocks.yaml")
    assert [n.name for n in blocks_graph.nodes][:3] == ["block1_conv1", "block1_conv2", "block1_pool"]


@pytest.mark.parametrize(("default", "error"), [("2.5", "an integer"), ("'ten'", "an integer"), ("true", "an integer"),
                                                ("12", None)])
def test_a_variant_may_change_a_params_default_but_not_its_type(tmp_path: Path, default: str,
                                                                error: str | None) -> None:
    (tmp_path / "base.yaml").write_text("alexgen: 1\nname: base\ninput_shape: [8, 8, 3]\nparams:\n  n: 10\n"
                                        "layers:\n  - {type: flatten}\n  - {type: dense, units: '${n}'}\n")
    variant = tmp_path / "var.yaml"
    variant.write_text(f"alexgen: 1\nextends: base.yaml\nname: var\nparams:\n  n: {default}\n")
    if error is None:
        assert load_graph(variant).node("dense_1").shape == (12,)
        return
    with pytest.raises(SpecError) as info:
        load_graph(variant)
    (problem,) = [d for d in info.value.diagnostics if d.level == "error"]
    assert (Path(problem.file).name, problem.line, problem.column) == ("var.yaml", 5, 6)
    assert f"parameter 'n' is {error} in its base (declared at " in problem.message
    assert "base.yaml:5" in problem.message
