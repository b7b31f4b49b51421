"""The JSON Schema: committed copy up to date, every bundled spec valid, typos rejected (with `jsonschema`)."""

from __future__ import annotations

import copy
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import ROOT, SPEC_NAMES, SPEC_PATHS

from alexgen.schema import schema_dict, schema_json

SCHEMA_PATH = ROOT / "schema" / "alexgen.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """A draft 2020-12 validator for the committed schema."""
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def load(path: Path) -> dict[str, Any]:
    """A spec as plain data (PyYAML: the specs write exponents as 1.0e-4, which YAML 1.1 reads as floats)."""
    return yaml.safe_load(path.read_text())


def errors(validator: jsonschema.protocols.Validator, data: dict[str, Any]) -> list[str]:
    """Every schema error's message."""
    return [error.message for error in validator.iter_errors(data)]


def test_schema_command_prints_the_committed_schema(alexgen_cli) -> None:
    result = alexgen_cli("schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == SCHEMA_PATH.read_text()
    assert schema_json() == result.stdout
    assert json.loads(result.stdout) == schema_dict()


def test_schema_is_draft_2020_12_and_forbids_unknown_keys() -> None:
    schema = schema_dict()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["alexgen"]
    assert schema["anyOf"] == [{"required": ["extends"]}, {"required": ["name", "input_shape", "layers"]}]
    models = [d for d in schema["$defs"].values() if d.get("type") == "object" and "propertyNames" not in d]
    assert models and all(d.get("additionalProperties") is False for d in models)
    name_maps = [d for d in schema["$defs"].values() if "propertyNames" in d]  # params and edits: keyed by names
    assert len(name_maps) == 4 and all(d["propertyNames"]["pattern"].startswith("^[") for d in name_maps)


@pytest.mark.parametrize("path", SPEC_PATHS, ids=SPEC_NAMES)
def test_every_bundled_spec_validates(validator, path: Path) -> None:
    assert errors(validator, load(path)) == []


@pytest.mark.parametrize("path", SPEC_PATHS, ids=SPEC_NAMES)
def test_every_bundled_spec_points_editors_at_the_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema/alexgen.schema.json"


def test_unknown_keys_fail(validator) -> None:
    spec = load(ROOT / "tests" / "specs" / "flat" / "alexnet.yaml")
    for mutate in (
        lambda s: s.update(trainig={}),
        lambda s: s["layers"][0].update(filter=96),
        lambda s: s["training"]["optimizer"].update(lerning_rate=0.1),
        lambda s: s["layers"][0].update(kernel_regularizer={"l3": 0.1}),
    ):
        broken = copy.deepcopy(spec)
        mutate(broken)
        assert errors(validator, broken), broken


def test_wrong_values_fail(validator) -> None:
    spec = load(ROOT / "tests" / "specs" / "flat" / "alexnet.yaml")
    for mutate in (
        lambda s: s.update(alexgen=2),
        lambda s: s["layers"][0].update(type="conv2D"),
        lambda s: s["layers"][0].update(filters="96"),
        lambda s: s["layers"][0].update(padding="samee"),
        lambda s: s["layers"][10].update(rate=1.5),
        lambda s: s.update(input_shape=[227, 227]),
        lambda s: s["training"].update(loss="mse"),
    ):
        broken = copy.deepcopy(spec)
        mutate(broken)
        assert errors(validator, broken), broken


def test_the_composition_keys_validate_and_typos_in_them_fail(validator) -> None:
    variant = load(ROOT / "spec" / "alexnet_bn_l2.yaml")
    assert "layers" not in variant and errors(validator, variant) == []
    spec = load(ROOT / "spec" / "alexnet_plain.yaml")
    assert spec["layers"][-1]["units"] == "${num_classes}" and errors(validator, spec) == []
    for mutate in (
        lambda s: s.update(insert_afer={"fc6": {"type": "dropout"}}),
        lambda s: s.update(extends="/etc/base.yaml"),
        lambda s: s.update(remove="drop6"),
        lambda s: s["update"].update(conv1=3),
        lambda s: s["insert_after"].update(fc6={"type": "dropout", "rat": 0.5}),
        lambda s: s.pop("extends"),
    ):
        broken = copy.deepcopy(variant)
        mutate(broken)
        assert errors(validator, broken), broken
    for mutate in (
        lambda s: s["layers"][0].update(type="${kind}"),
        lambda s: s["layers"][0].update(filters="${width"),
        lambda s: s.update(params={"Bad-Name": 1}),
        lambda s: s.update(params={"n": [1, 2]}),
        lambda s: s["layers"].insert(0, {"repeat": 2, "layers": [{"type": "dense", "units": 1}], "times": 2}),
    ):
        broken = copy.deepcopy(spec)
        mutate(broken)
        assert errors(validator, broken), broken
    repeated = copy.deepcopy(spec)
    repeated["layers"].insert(0, {"repeat": "${n}", "layers": [{"type": "conv2d", "name": "c{i}", "filters": 8,
                                                                   "kernel_size": 3}]})
    assert errors(validator, repeated) == []


def test_a_json_spec_with_a_schema_key_validates(validator, analyze_text) -> None:
    spec = {"$schema": "../schema/alexgen.schema.json", "alexgen": 1, "name": "tiny", "input_shape": [8, 8, 1],
            "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": [[0, 1], [1, 0]]},
                       {"type": "lrn", "alpha": 1e-4}, {"type": "flatten"}, {"type": "dense", "units": 3}],
            "training": {"optimizer": {"type": "rmsprop"}, "lr_schedule": {"type": "step", "step_size": 5}}}
    assert errors(validator, spec) == []
    graph = analyze_text(json.dumps(spec))
    assert graph.output.shape == (3,)


# --- the examples of docs/spec.md -----------------------------------------------------------------------------

DOC = (ROOT / "docs" / "spec.md").read_text()
DOC_HEADER = "alexgen: 1\nname: doc_example\ninput_shape: [227, 227, 3]\n"


def yaml_blocks() -> list[str]:
    """The ```yaml blocks of docs/spec.md that are whole specs or whole `layers:` lists."""
    blocks = [textwrap.dedent(b) for b in re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)]
    return [b if b.startswith(("alexgen:", "#")) else DOC_HEADER + b for b in blocks
            if "# ...\n" not in b and ("alexgen: 1" in b or b.startswith("layers:"))  # not excerpts
            and not b.startswith("# file:")]  # the multi-file examples of variants: tests/test_compose.py


def test_the_documented_examples_are_valid_except_the_broken_one(validator, analyze_text, diagnose) -> None:
    blocks = yaml_blocks()
    assert len(blocks) == 3
    first, anchors, broken = blocks
    assert analyze_text(first).total_params == 62_378_344
    assert errors(validator, yaml.safe_load(first)) == []
    assert analyze_text(anchors).node("conv1b").shape == (12, 12, 48)
    assert len(diagnose(broken)) == 3


def test_training_augmentation_is_in_the_schema_and_located_when_wrong(validator, analyze_text, diagnose) -> None:
    spec = load(ROOT / "spec" / "alexnet.yaml")
    spec["training"]["augmentation"] = {"resize": 256, "random_crop": True, "horizontal_flip": True, "pca_jitter": 0.1}
    assert errors(validator, spec) == []
    for bad in ({"resize": 0}, {"pca_jitter": -0.1}, {"flip": True}, {"random_crop": "yes"}):
        broken = copy.deepcopy(spec)
        broken["training"]["augmentation"] = bad
        assert errors(validator, broken), bad
    text = "training:\n  augmentation: {random_crop: false, horizontal_flip: false, pca_jitter: 0.0}\n"
    graph = analyze_text(HEADER_TINY + "training:\n  augmentation: {}\n")
    assert graph.spec.training.augmentation.resize == 256 and graph.spec.training.augmentation.pca_jitter == 0.1
    (problem,) = diagnose(HEADER_TINY + text)
    assert (problem.line, problem.column) == (8, 17) and "does nothing" in problem.message
    (problem,) = diagnose(HEADER_TINY + "training:\n  augmentation: {resize: -3}\n")
    assert (problem.line, problem.column) == (8, 26)


HEADER_TINY = (
    "alexgen: 1\nname: tiny\ninput_shape: [8, 8, 3]\nlayers:\n  - {type: flatten}\n  - {type: dense, units: 3}\n"
)
