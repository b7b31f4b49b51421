"""The loader: plain data with positions, duplicate keys, YAML 1.2 numbers, JSON, encodings and budgets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from alexgen import loader
from alexgen.diagnostics import SpecError
from alexgen.loader import load_document, parse_text

TEXT = """\
alexgen: 1
name: tiny
input_shape: [8, 8, 1]
layers:
  - type: conv2d
    filters: 4
  - {type: flatten, name: f}
"""


def test_values_and_keys_keep_their_positions() -> None:
    data, source, problems = parse_text(TEXT, "tiny.yaml")
    assert problems == []
    assert data["layers"][1] == {"type": "flatten", "name": "f"}
    assert source.file == "tiny.yaml"
    assert source.values[("name",)] == (2, 7)
    assert source.keys[("name",)] == (2, 1)
    assert source.values[("input_shape", 2)] == (3, 21)
    assert source.values[("layers", 0)] == (5, 5)
    assert source.keys[("layers", 0, "filters")] == (6, 5)
    assert source.values[("layers", 0, "filters")] == (6, 14)
    assert source.values[("layers", 1, "name")] == (7, 27)


def test_locate_falls_back_to_the_deepest_known_node() -> None:
    _, source, _ = parse_text(TEXT, "tiny.yaml")
    assert source.locate(("layers", 0, "kernel_size")) == (5, 5)  # missing key: its mapping
    assert source.locate(("layers", 0, "filters"), key=True) == (6, 5)
    assert source.locate(("nothing", "here")) == (1, 1)
    diagnostic = source.diagnostic(("layers", 1, "name"), "bad", hint="h", layer="f", index=1)
    assert (diagnostic.line, diagnostic.column, diagnostic.layer, diagnostic.index) == (7, 27, "f", 1)


def test_duplicate_keys_are_problems_and_the_first_value_is_kept() -> None:
    data, _, problems = parse_text("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert data == {"a": 1, "b": 2}
    assert [(p.message, p.line, p.column) for p in problems] == [("duplicate key 'a' (first given on line 1)", 3, 1)]


def test_duplicate_keys_in_nested_mappings() -> None:
    _, _, problems = parse_text("x:\n  - {k: 1, k: 2}\n  - {k: 1}\n")
    assert [(p.message, p.line, p.column) for p in problems] == [("duplicate key 'k' (first given on line 2)", 2, 12)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-4", 1e-4),
        ("1.0e-4", 1e-4),
        ("-2E+3", -2000.0),
        ("5e0", 5.0),
        ("0.75", 0.75),
        ("3", 3),
        ("'1e-4'", "1e-4"),
        ("true", True),
        ("null", None),
    ],
)
def test_numbers_are_read_as_yaml_1_2_reads_them(text: str, value: object) -> None:
    data, _, _ = parse_text(f"v: {text}\n")
    assert data["v"] == value
    assert type(data["v"]) is type(value)


def test_merge_keys_and_aliases() -> None:
    data, _, problems = parse_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n")
    assert problems == []
    assert data["other"] == {"x": 1, "y": 3}
    assert data["list"] == [{"x": 1, "y": 2}, {"x": 1, "y": 2}]


def test_merge_of_several_mappings_keeps_the_first() -> None:
    data, _, _ = parse_text("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nc:\n  <<: [*a, *b]\n")
    assert data["c"] == {"x": 1, "z": 3}


def test_merge_of_a_non_mapping_is_a_problem() -> None:
    _, _, problems = parse_text("a: &a [1]\nc:\n  <<: *a\n")
    assert [p.message for p in problems] == ["a YAML merge key ('<<') needs a mapping"]


def test_tags_are_problems() -> None:
    data, _, problems = parse_text("a: !!python/tuple [1, 2]\nb: !!str 3\nc: !x 4\n")
    assert data["c"] == 4  # read as if untagged
    assert [p.message for p in problems] == [
        "YAML tag 'tag:yaml.org,2002:python/tuple' is not allowed",
        "YAML tag '!x' is not allowed",
    ]


def test_non_string_keys_and_timestamps() -> None:
    data, _, problems = parse_text("1: one\nwhen: 2012-12-03\n")
    assert data == {"1": "one", "when": "2012-12-03"}
    assert [p.message for p in problems] == ["mapping key 1 is not a string"]


def test_json_is_read_with_positions() -> None:
    text = json.dumps({"alexgen": 1, "layers": [{"type": "dense", "units": 10}]}, indent=2)
    data, source, problems = parse_text(text, "s.json")
    assert problems == []
    assert data["layers"][0]["units"] == 10
    assert source.values[("layers", 0, "units")] == (6, 16)


def test_json_indented_with_tabs_is_read() -> None:
    text = '{\n\t"a": 1,\n\t"b": ["x\\ty", 2e-3]\n}\n'
    data, source, problems = parse_text(text, "t.json")
    assert problems == []
    assert data == {"a": 1, "b": ["x\ty", 2e-3]}
    assert source.values[("b", 1)] == (3, 16)


def test_yaml_indented_with_tabs_is_a_syntax_error_with_a_hint() -> None:
    with pytest.raises(SpecError) as info:
        parse_text("a:\n\t- 1\n", "t.yaml")
    (d,) = info.value.diagnostics
    assert (d.line, d.column, d.hint) == (2, 1, "YAML indents with spaces, never tabs")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the spec file is empty"),
        ("   \n\n", "the spec file is empty"),
        ("# nothing\n", "the spec file holds no document"),
        ("[1, 2]\n", "the top level of a spec must be a mapping, not a list"),
        ("42\n", "the top level of a spec must be a mapping, not a number"),
        ("just text\n", "the top level of a spec must be a mapping, not a string"),
        ("null\n", "the top level of a spec must be a mapping, not null"),
        ("a: [\n", "YAML syntax error: expected the node content, but found '<stream end>'"),
        ("a: 1\n---\nb: 2\n", "YAML syntax error: expected a single document in the stream, but found another "
                               "document"),
    ],
)
def test_unusable_documents_raise(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_text(text, "x.yaml")
    (d,) = info.value.diagnostics
    assert d.message == message
    assert d.file == "x.yaml"


def test_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = "a: " + "[" * 60 + "]" * 60 + "\n"
    with pytest.raises(SpecError, match="nests deeper than 40 levels"):
        parse_text(deep)
    monkeypatch.setattr(loader, "MAX_NODES", 100)
    with pytest.raises(SpecError, match="more than 100 nodes"):
        parse_text("a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n")


def test_load_document_reads_utf8_with_a_bom_and_hashes_the_bytes(tmp_path: Path) -> None:
    raw = "\ufeffname: caf\u00e9\n".encode()
    path = tmp_path / "s.yaml"
    path.write_bytes(raw)
    document = load_document(path, "shown.yaml")
    assert document.data == {"name": "caf\u00e9"}
    assert document.path == document.source.file == "shown.yaml"
    assert document.sha256 == hashlib.sha256(raw).hexdigest()


def test_load_document_refuses_other_encodings_with_a_position(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nname: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_document(path)
    (d,) = info.value.diagnostics
    assert d.message == "the file is not valid UTF-8 (byte 0xe9)"
    assert (d.line, d.column) == (2, 10)


def test_load_document_refuses_missing_and_huge_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_document(tmp_path / "missing.yaml", "missing.yaml")
    assert [d.format() for d in info.value.diagnostics] == ["alexgen: error: no such file: missing.yaml"]
    with pytest.raises(SpecError) as info:
        load_document(tmp_path, "folder")
    assert [d.format() for d in info.value.diagnostics] == ["alexgen: error: folder is a folder, not a spec file"]
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (loader.MAX_BYTES + 1))
    with pytest.raises(SpecError, match="larger than"):
        load_document(huge)
