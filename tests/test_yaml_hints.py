"""YAML syntax errors say what the user most likely did; nesting depth is refused, located, on every YAML parser."""

from __future__ import annotations

import pytest
import yaml

from alexgen import loader
from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.loader import parse_text

HEAD = "alexgen: 1\nname: probe\ninput_shape: [32, 32, 3]\nlayers:\n"


def only_problem(text: str) -> Diagnostic:
    """The single diagnostic that parsing `text` raises."""
    with pytest.raises(SpecError) as info:
        parse_text(text, "s.yaml")
    (problem,) = info.value.diagnostics
    return problem


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml (when PyYAML has it) and with PyYAML's pure-Python parser alone."""
    if request.param == "libyaml" and not loader._LIBYAML:
        pytest.skip("this PyYAML has no libyaml")
    if request.param == "pure-python":
        monkeypatch.setattr(loader, "_LIBYAML", False)
    return request.param


CASES = {
    "missing space after a colon (top level)": (
        "alexgen:1\nname: probe\n",
        "s.yaml:2:5: error: YAML syntax error: mapping values are not allowed here",
        "line 1 has `alexgen:1`: a key needs a space after its colon (`alexgen: 1`)",
    ),
    "missing space after a colon (in a layer)": (
        HEAD + "  - type: conv2d\n    filters:8\n    kernel_size: 3\n",
        "s.yaml:7:5: error: YAML syntax error: could not find expected ':'",
        "line 6 has `filters:8`: a key needs a space after its colon (`filters: 8`)",
    ),
    "a key indented more than the one before": (
        HEAD + "  - type: conv2d\n    filters: 8\n     kernel_size: 3\n",
        "s.yaml:7:17: error: YAML syntax error: mapping values are not allowed here",
        "line 7 is indented more than line 6: the keys of one mapping must start in the same column",
    ),
    "a key indented less than the one before": (
        HEAD + "  - type: conv2d\n    filters: 8\n   kernel_size: 3\n",
        "s.yaml:7:4: error: YAML syntax error: expected <block end>, but found '<block mapping start>'",
        "inconsistent indentation: line 7 does not line up with the block that starts on line 5; the keys of one "
        "mapping (and the `-` of one list) must start in the same column",
    ),
    "a layer's key lined up with its dash": (
        HEAD + "  - type: conv2d\n  filters: 8\n",
        "s.yaml:6:3: error: YAML syntax error: expected <block end>, but found '?'",
        "inconsistent indentation: line 6 does not line up with the block that starts on line 5; the keys of one "
        "mapping (and the `-` of one list) must start in the same column",
    ),
    "a tab": (
        HEAD + "\t- {type: flatten}\n",
        "s.yaml:5:1: error: YAML syntax error: found character '\\t' that cannot start any token",
        "YAML indents with spaces, never tabs",
    ),
    "an unclosed bracket": (
        "alexgen: 1\ninput_shape: [32, 32, 3\nlayers:\n  - {type: flatten}\n",
        "s.yaml:3:7: error: YAML syntax error: expected ',' or ']', but got ':'",
        "the `[` opened at line 2, column 14 is not closed before this point: add the missing `]`, or a missing "
        "comma between two entries",
    ),
    "an unclosed brace": (
        HEAD + "  - {type: flatten\n  - {type: dense, units: 2}\n",
        "s.yaml:6:5: error: YAML syntax error: expected ',' or '}', but got '{'",
        "the `{` opened at line 5, column 5 is not closed before this point: add the missing `}`, or a missing "
        "comma between two entries",
    ),
    "a missing comma in JSON": (
        '{"alexgen": 1\n "name": "x"}\n',
        "s.yaml:2:8: error: YAML syntax error: expected ',' or '}', but got ':'",
        "the `{` opened at line 1, column 1 is not closed before this point: add the missing `}`, or a missing "
        "comma between two entries",
    ),
    "an unclosed double quote": (
        'alexgen: 1\nname: "probe\ninput_shape: [1]\n',
        "s.yaml:4:1: error: YAML syntax error: found unexpected end of stream",
        'the `"` opened at line 2, column 7 is never closed: add the closing `"`',
    ),
    "an unclosed single quote": (
        "alexgen: 1\nname: 'probe\ninput_shape: [1]\n",
        "s.yaml:4:1: error: YAML syntax error: found unexpected end of stream",
        "the `'` opened at line 2, column 7 is never closed: add the closing `'`",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_common_syntax_errors_get_a_located_hint(case: str, parser: str) -> None:
    text, first_line, hint = CASES[case]
    problem = only_problem(text)
    assert problem.format() == f"{first_line}\n    hint: {hint}"


def test_a_colon_inside_a_value_is_not_taken_for_a_missing_space() -> None:
    problem = only_problem("alexgen: 1\ndescription: see http://x: here\n")
    assert problem.hint == "a `: ` inside a value: quote the value"


DEEP = {
    "flow, 100,000 `[`": ("alexgen: 1\nlayers: " + "[" * 100_000 + "]" * 100_000 + "\n", (2, 48)),
    "flow, 1,001 `{`": ("a: " + "{a: " * 1_001 + "1" + "}" * 1_001 + "\n", (1, 160)),
    "block, 2,000 `- `": ("- " * 2_000 + "x\n", (1, 81)),
}


@pytest.mark.parametrize("case", list(DEEP), ids=list(DEEP))
def test_deep_nesting_is_located_on_every_parser(case: str, parser: str) -> None:
    text, where = DEEP[case]
    problem = only_problem(text)
    assert (problem.message, (problem.line, problem.column)) == ("the document nests deeper than 40 levels", where)


def test_a_libyaml_that_refuses_deep_nesting_itself_still_gives_the_located_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PyYAML 6.0.4's libyaml raises its own unlocated "exceeded maximum nesting depth" before any event reaches
    alexgen; simulated here so the fallback is exercised whatever version is installed."""
    real_parse = yaml.parse

    def refusing(stream: str, Loader: type = yaml.SafeLoader):  # noqa: N803 (PyYAML's own argument name)
        if Loader is loader._FastComposer:
            raise yaml.scanner.ScannerError("while increasing flow level", None, "exceeded maximum nesting depth")
        return real_parse(stream, Loader=Loader)

    monkeypatch.setattr(loader, "_LIBYAML", True)
    monkeypatch.setattr(yaml, "parse", refusing)
    problem = only_problem(DEEP["flow, 100,000 `[`"][0])
    assert (problem.message, problem.line, problem.column) == ("the document nests deeper than 40 levels", 2, 48)


@pytest.mark.parametrize("case", list(DEEP), ids=list(DEEP))
def test_libyaml_locates_deep_nesting_without_the_pure_python_parser(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pure-Python scanner takes time quadratic in the depth; where libyaml refuses a document for its own
    nesting limit, the located message comes from libyaml reading the text before the place it stopped."""
    if not loader._LIBYAML:
        pytest.skip("this PyYAML has no libyaml")
    real_check = loader._check_depth

    def libyaml_only(text: str, file: str, parser: type) -> None:
        assert parser is loader._FastComposer, "fell back to the pure-Python parser"
        real_check(text, file, parser)

    monkeypatch.setattr(loader, "_check_depth", libyaml_only)
    text, where = DEEP[case]
    problem = only_problem(text)
    assert (problem.message, (problem.line, problem.column)) == ("the document nests deeper than 40 levels", where)


def test_a_missing_space_that_yaml_accepts_is_named_by_validation() -> None:
    """`{type:flatten}` and `epochs:3` are valid YAML (one word each), so validation names the slip."""
    from alexgen.validate import graph_from_text

    text = HEAD + "  - {type:flatten}\n  - {type: dense, units:2}\ntraining:\n  epochs:3\n"
    with pytest.raises(SpecError) as info:
        graph_from_text(text, "s.yaml")
    assert [d.format() for d in info.value.diagnostics] == [
        "s.yaml:5:5: error: layer 0 'layer_1': missing key 'type'\n"
        "    hint: a key needs a space after its colon: `type: flatten`, not `type:flatten`",
        "s.yaml:6:19: error: layer 1 'dense_1': unknown key 'units:2'\n"
        "    hint: a key needs a space after its colon: `units: 2`, not `units:2`",
        "s.yaml:8:3: error: Input should be a valid dictionary or instance of Training (got 'epochs:3')\n"
        "    hint: a key needs a space after its colon: `epochs: 3`, not `epochs:3`",
    ]
