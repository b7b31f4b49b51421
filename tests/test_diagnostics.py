"""Every diagnostic of the issue: its message, its hint, and the line and column it points at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import HEADER, position, spec_text

from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.validate import graph_from_text, load_graph


def only(diagnostics: list[Diagnostic]) -> Diagnostic:
    """The single diagnostic of a list (fails with all of them otherwise)."""
    assert len(diagnostics) == 1, "\n".join(d.format() for d in diagnostics)
    return diagnostics[0]


def at(diagnostic: Diagnostic) -> tuple[int, int]:
    """Where a diagnostic points."""
    return diagnostic.line, diagnostic.column


# --- shapes ----------------------------------------------------------------------------------------


def test_kernel_larger_than_its_input(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, name: conv1, filters: 8, kernel_size: 3}
        - {type: conv2d, name: conv2, filters: 8, kernel_size: 31}
    """)
    d = only(diagnose(text))
    assert "the height 30 (padded: 30) is smaller than the window (31)" in d.message
    assert "output height would be 0" in d.message
    assert (d.layer, d.index) == ("conv2", 1)
    assert at(d) == position(text, "31}")
    assert d.file == "probe.yaml"
    assert d.hint and "smaller kernel" in d.hint


def test_kernel_larger_than_its_padded_input(diagnose, analyze_text) -> None:
    fits = spec_text("- {type: conv2d, filters: 8, kernel_size: 34, padding: 1}")
    assert analyze_text(fits).output.shape == (1, 1, 8)
    text = spec_text("- {type: conv2d, filters: 8, kernel_size: [3, 35], padding: [0, 1]}")
    d = only(diagnose(text))
    assert "the width 32 (padded: 34) is smaller than the window (35)" in d.message
    assert at(d) == position(text, "[3, 35]")


def test_dilated_kernel_counts_its_effective_size(diagnose) -> None:
    text = spec_text("- {type: conv2d, filters: 8, kernel_size: 5, dilation_rate: 8}")
    d = only(diagnose(text))
    assert "smaller than the window (33)" in d.message


def test_pool_larger_than_its_input(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, filters: 8, kernel_size: 3, strides: 4}
        - {type: max_pool2d, name: pool, pool_size: 9}
    """)
    d = only(diagnose(text))
    assert "the height 8 (padded: 8) is smaller than the window (9)" in d.message
    assert (d.layer, d.index) == ("pool", 1)
    assert at(d) == position(text, "9}")


def test_shapes_that_reach_zero(diagnose) -> None:
    text = spec_text("""
        - {type: avg_pool2d, pool_size: 4}
        - {type: max_pool2d, pool_size: 4}
        - {type: max_pool2d, pool_size: 3, strides: 3}
        - {type: flatten}
    """)
    d = only(diagnose(text))  # 32 -> 8 -> 2 -> nothing
    assert "the height 2 (padded: 2) is smaller than the window (3), so the output height would be 0" in d.message
    assert (d.layer, d.index) == ("max_pool2d_2", 2)
    assert at(d) == position(text, "3, strides")


def test_a_negative_size_is_reported_as_such(diagnose) -> None:
    d = only(diagnose(spec_text("- {type: conv2d, filters: 8, kernel_size: 40}")))
    assert "so the output height would be -7" in d.message


def test_concatenate_inputs_whose_height_and_width_differ(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, name: a, filters: 8, kernel_size: 3}
        - {type: conv2d, name: b, filters: 8, kernel_size: 5, inputs: [input]}
        - {type: concatenate, name: join, inputs: [a, b]}
    """)
    d = only(diagnose(text))
    assert d.message == "inputs differ outside the concatenation axis: 30x30x8, 28x28x8"
    assert d.hint and "same height and width" in d.hint
    assert (d.layer, d.index) == ("join", 2)
    assert at(d) == position(text, "[a, b]")


def test_concatenate_of_different_ranks_and_bad_axis(diagnose) -> None:
    text = spec_text("""
        - {type: flatten, name: f}
        - {type: concatenate, name: join, inputs: [input, f]}
    """)
    assert "different ranks: 32x32x3, 3072" in only(diagnose(text)).message
    text = spec_text("""
        - {type: conv2d, name: a, filters: 8, kernel_size: 3, inputs: [input]}
        - {type: concatenate, name: join, inputs: [input, a], axis: 0}
    """)
    d = only(diagnose(text))
    assert "axis 0 is out of range" in d.message and "batch" in d.message
    assert at(d) == position(text, "0}")


def test_dense_on_a_3d_input_without_flatten(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, filters: 8, kernel_size: 3}
        - {type: dense, units: 10}
    """)
    d = only(diagnose(text))
    assert d.message == "dense needs a flat input, but its input is 30x30x8"
    assert d.hint and "flatten" in d.hint
    assert (d.layer, d.index) == ("dense_1", 1)
    assert at(d) == position(text, "type: dense")


def test_spatial_layer_after_flatten(diagnose) -> None:
    text = spec_text("""
        - {type: flatten}
        - {type: conv2d, filters: 8, kernel_size: 3}
    """)
    d = only(diagnose(text))
    assert "conv2d needs a height x width x channels input, got 3072" in d.message
    assert d.line == position(text, "conv2d")[0]


# --- inputs, names, graph ----------------------------------------------------------------------------------


def test_unknown_input_with_did_you_mean(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, name: conv1, filters: 8, kernel_size: 3}
        - {type: flatten, inputs: [conv_1]}
    """)
    d = only(diagnose(text))
    assert d.message == "unknown input 'conv_1'"
    assert d.hint == "did you mean 'conv1'?"
    assert (d.layer, d.index) == ("flatten_1", 1)
    assert at(d) == position(text, "conv_1")


def test_unknown_input_without_a_close_name_lists_the_known_ones(diagnose) -> None:
    d = only(diagnose(spec_text("- {type: flatten, name: f, inputs: [zzzz]}")))
    assert d.hint == "known names: input, f"


def test_forward_reference(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, name: a, filters: 8, kernel_size: 3, inputs: [b]}
        - {type: conv2d, name: b, filters: 8, kernel_size: 3, inputs: [input]}
        - {type: concatenate, inputs: [a, b]}
    """)
    d = only(diagnose(text))
    assert d.message == "forward reference to 'b', defined later (layer 1)"
    assert d.hint == "list every layer after the layers it reads"
    assert (d.layer, d.index) == ("a", 0)
    assert at(d) == position(text, "b]")


def test_cycle(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, name: a, filters: 3, kernel_size: 1, inputs: [c]}
        - {type: conv2d, name: b, filters: 3, kernel_size: 1}
        - {type: conv2d, name: c, filters: 3, kernel_size: 1}
    """)
    d = only(diagnose(text))
    assert d.message == "cycle: a -> c -> b -> a"
    assert at(d) == position(text, "c]")


def test_a_layer_reading_itself(diagnose) -> None:
    text = spec_text("- {type: conv2d, name: a, filters: 3, kernel_size: 1, inputs: [a]}")
    d = only(diagnose(text))
    assert d.message == "layer 'a' reads its own output (a cycle)"
    assert at(d) == position(text, "a]")


def test_duplicate_layer_names(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, name: conv, filters: 8, kernel_size: 3}
        - {type: conv2d, name: conv, filters: 8, kernel_size: 3}
    """)
    d = only(diagnose(text))
    assert d.message == "duplicate layer name 'conv'; layer 0 already has it"
    assert (d.layer, d.index) == ("conv", 1)
    assert at(d) == position(text, "conv,", occurrence=2)


def test_duplicate_of_a_default_name(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, filters: 8, kernel_size: 3}
        - {type: conv2d, name: conv2d_1, filters: 8, kernel_size: 3}
    """)
    d = only(diagnose(text))
    assert "duplicate layer name 'conv2d_1'" in d.message
    assert at(d) == position(text, "conv2d_1")


def test_input_is_reserved(diagnose) -> None:
    text = spec_text("- {type: flatten, name: input}")
    d = only(diagnose(text))
    assert d.message == "'input' names the network input and cannot name a layer"
    assert at(d) == position(text, "input}")


def test_two_inputs_need_a_concatenate(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, name: a, filters: 3, kernel_size: 1}
        - {type: conv2d, name: b, filters: 3, kernel_size: 1, inputs: [input, a]}
    """)
    d = only(diagnose(text))
    assert d.message == "a conv2d layer takes one input, got 2"
    assert d.hint == "join several inputs with a concatenate layer"


@pytest.mark.parametrize("name", ["1conv", "conv-1", "conv 1", "_conv", "cönv"])
def test_names_that_are_not_identifiers(diagnose, name: str) -> None:
    text = spec_text(f"- {{type: flatten, name: '{name}'}}")
    d = only(diagnose(text))
    assert d.message == f"{name!r} is not a valid name"
    assert d.hint and "identifiers" in d.hint
    assert at(d) == position(text, f"'{name}'")


@pytest.mark.parametrize("name", ["class", "lambda", "None", "match", "type"])
def test_names_that_are_python_keywords(diagnose, name: str) -> None:
    text = spec_text(f"""
        - {{type: conv2d, filters: 8, kernel_size: 3}}
        - type: flatten
          name: {name}
    """)
    d = only(diagnose(text))
    assert d.message == f"'{name}' is a Python keyword"
    assert d.hint == f"rename it, e.g. '{name}_'"
    assert (d.layer, d.index) == (name, 1)
    line, column = position(text, f"name: {name}")
    assert at(d) == (line, column + len("name: "))


def test_the_spec_name_must_be_snake_case(diagnose) -> None:
    text = "alexgen: 1\nname: AlexNet\ninput_shape: [8, 8, 1]\nlayers:\n  - {type: flatten}\n"
    d = only(diagnose(text))
    assert d.message == "'AlexNet' is not a valid name"
    assert at(d) == (2, 7)


def test_double_underscores_are_reserved(diagnose) -> None:
    d = only(diagnose(spec_text("- {type: flatten, name: a__b}")))
    assert d.message == "'a__b' contains '__', which is reserved"


# --- groups ----------------------------------------------------------------------------------------------


def test_groups_that_do_not_divide_the_input_channels(diagnose) -> None:
    text = spec_text("- {type: conv2d, name: c, filters: 8, kernel_size: 3, groups: 2}")
    d = only(diagnose(text))
    assert d.message == "groups=2 does not divide the 3 input channels"
    assert (d.layer, d.index) == ("c", 0)
    assert at(d) == position(text, "2}")


def test_groups_that_do_not_divide_the_filters(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, filters: 4, kernel_size: 3}
        - {type: conv2d, name: c, filters: 6, kernel_size: 3, groups: 4}
    """)
    d = only(diagnose(text))
    assert d.message == "groups=4 does not divide the 6 filters"
    assert d.hint == "choose groups among the common divisors of 4 and 6"
    assert at(d) == position(text, "4}")


# --- keys, types and values ---------------------------------------------------------------------------------


def test_unknown_type_with_did_you_mean(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, filters: 8, kernel_size: 3}
        - {type: maxpool2d, pool_size: 2}
    """)
    d = only(diagnose(text))
    assert d.message == "unknown type 'maxpool2d'"
    assert d.hint == "did you mean 'max_pool2d'?"
    assert (d.layer, d.index) == ("maxpool2d_1", 1)
    assert at(d) == position(text, "maxpool2d")


def test_unknown_type_elsewhere(diagnose) -> None:
    text = spec_text("- {type: flatten}", tail="training:\n  optimizer: {type: adamw}\n")
    d = only(diagnose(text))
    assert (d.message, d.hint) == ("unknown type 'adamw'", "did you mean 'adam'?")
    assert at(d) == position(text, "adamw")
    d = only(diagnose(spec_text("- {type: flatten}\n- {type: dense, units: 2, kernel_initializer: "
                                "{type: random_normall, stddev: 0.1}}")))
    assert (d.message, d.hint) == ("unknown type 'random_normall'", "did you mean 'random_normal'?")


def test_missing_type(diagnose) -> None:
    text = spec_text("- {units: 10}")
    d = only(diagnose(text))
    assert d.message == "missing key 'type'"
    assert d.layer == "layer_1"


def test_unknown_key_with_did_you_mean(diagnose) -> None:
    text = spec_text("""
        - type: conv2d
          filters: 8
          kernel_size: 3
          stride: 2
    """)
    d = only(diagnose(text))
    assert d.message == "unknown key 'stride'"
    assert d.hint == "did you mean 'strides'?"
    assert (d.layer, d.index) == ("conv2d_1", 0)
    assert at(d) == position(text, "stride:")


def test_a_misspelt_required_key_is_reported_once(diagnose) -> None:
    text = spec_text("- {type: conv2d, filter: 8, kernel_size: 3}")
    d = only(diagnose(text))
    assert (d.message, d.hint) == ("unknown key 'filter'", "did you mean 'filters'?")
    assert at(d) == position(text, "filter:")


def test_missing_required_keys(diagnose) -> None:
    text = spec_text("- {type: conv2d}")
    found = diagnose(text)
    assert [d.message for d in found] == ["missing required key 'filters'", "missing required key 'kernel_size'"]
    assert {at(d) for d in found} == {position(text, "{type: conv2d}")}


def test_unknown_top_level_and_training_keys(diagnose) -> None:
    text = spec_text("- {type: flatten}", tail="""
        trainig: {}
        training:
          optimizer: {type: sgd, learning_rate: 0.1, nesterof: true}
    """)
    first, second = diagnose(text)
    assert (first.message, first.hint) == ("unknown key 'trainig'", "did you mean 'training'?")
    assert at(first) == position(text, "trainig")
    assert (second.message, second.hint) == ("unknown key 'nesterof'", "did you mean 'nesterov'?")
    assert at(second) == position(text, "nesterof")


def test_unknown_key_without_a_close_match_lists_the_allowed_ones(diagnose) -> None:
    d = only(diagnose(spec_text("- {type: dense, units: 3, kernel_regularizer: {l3: 0.1}}")))
    assert (d.message, d.hint) == ("unknown key 'l3'", "allowed keys: l1, l2")


def test_boolean_where_an_integer_is_required(diagnose) -> None:
    text = spec_text("- {type: conv2d, filters: yes, kernel_size: 3}")
    d = only(diagnose(text))
    assert d.message == "expected a number, got the boolean true"
    assert at(d) == position(text, "yes")


def test_float_where_an_integer_is_required(diagnose) -> None:
    text = spec_text("- {type: conv2d, filters: 96.0, kernel_size: 3}")
    d = only(diagnose(text))
    assert d.message == "expected an integer, got 96.0"
    assert d.hint == "sizes and counts are whole numbers"
    assert at(d) == position(text, "96.0")


def test_float_where_an_integer_or_pair_is_required(diagnose) -> None:
    text = spec_text("- {type: conv2d, filters: 8, kernel_size: 3.5}")
    d = only(diagnose(text))
    assert d.message == "invalid value 3.5: expected a list or an integer"
    assert at(d) == position(text, "3.5")


def test_bad_item_inside_a_pair_points_at_the_item(diagnose) -> None:
    text = spec_text("- {type: conv2d, filters: 8, kernel_size: [3, 0]}")
    d = only(diagnose(text))
    assert d.message == "Input should be greater than 0 (got 0)"
    assert at(d) == position(text, "0]")


def test_literal_with_did_you_mean(diagnose) -> None:
    text = spec_text("- {type: conv2d, filters: 8, kernel_size: 3, padding: samee, activation: rellu}")
    first, second = diagnose(text)
    assert first.message == "invalid value 'samee': expected 'valid', 'same' or a list or an integer"
    assert first.hint == "did you mean 'same'?"
    assert second.message == "invalid value 'rellu': expected 'relu', 'softmax', 'sigmoid', 'tanh', 'linear'"
    assert second.hint == "did you mean 'relu'?"


def test_initializer_with_a_misspelt_key_gets_one_diagnostic(diagnose) -> None:
    text = spec_text("- {type: conv2d, filters: 8, kernel_size: 3, kernel_initializer: {type: random_normal, "
                     "stdev: 0.1}}")
    d = only(diagnose(text))
    assert (d.message, d.hint) == ("unknown key 'stdev'", "did you mean 'stddev'?")


def test_even_lrn_size(diagnose) -> None:
    d = only(diagnose(spec_text("- {type: lrn, size: 4}")))
    assert d.message == "size must be odd (got 4): an even window has no centre channel"


def test_unsupported_format_version(diagnose) -> None:
    text = HEADER.replace("alexgen: 1", "alexgen: 2") + "  - {type: flatten}\n"
    d = only(diagnose(text))
    assert d.message == "unsupported spec format version 2"
    assert d.hint == "this alexgen reads `alexgen: 1`"
    assert at(d) == (1, 10)


def test_missing_version(diagnose) -> None:
    d = only(diagnose("name: t\ninput_shape: [8, 8, 1]\nlayers:\n  - {type: flatten}\n"))
    assert d.message == "missing required key 'alexgen'"
    assert at(d) == (1, 1)


# --- YAML itself --------------------------------------------------------------------------------------------


def test_duplicate_yaml_keys(diagnose) -> None:
    text = spec_text("""
        - type: conv2d
          filters: 8
          kernel_size: 3
          filters: 16
    """)
    d = only(diagnose(text))
    assert d.message == f"duplicate key 'filters' (first given on line {position(text, 'filters')[0]})"
    assert d.hint == "remove one of the two; YAML would silently keep the last"
    assert at(d) == position(text, "filters", occurrence=2)


def test_duplicate_top_level_key(diagnose) -> None:
    text = HEADER.replace("name: probe\n", "name: probe\nname: other\n") + "  - {type: flatten}\n"
    d = only(diagnose(text))
    assert d.message == "duplicate key 'name' (first given on line 2)"
    assert at(d) == (3, 1)


def test_duplicate_json_keys(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{\n  "alexgen": 1,\n  "name": "t",\n  "input_shape": [8, 8, 1],\n'
                    '  "layers": [{"type": "flatten", "type": "dense"}]\n}\n')
    with pytest.raises(SpecError) as info:
        load_graph(path, "dup.json")
    d = only(info.value.diagnostics)
    assert d.message == "duplicate key 'type' (first given on line 5)"
    assert (d.file, d.line, d.column) == ("dup.json", 5, 34)


def test_yaml_syntax_error_is_located(diagnose) -> None:
    d = only(diagnose("alexgen: 1\nlayers: [\n"))
    assert d.message.startswith("YAML syntax error")
    assert d.line == 3


def test_tabs_in_yaml_get_a_hint(diagnose) -> None:
    d = only(diagnose("alexgen: 1\nlayers:\n\t- {type: flatten}\n"))
    assert (d.line, d.column) == (3, 1)
    assert d.hint == "YAML indents with spaces, never tabs"


def test_json_indented_with_tabs_is_read(tmp_path: Path) -> None:
    spec = {"alexgen": 1, "name": "t", "description": "a\tb", "input_shape": [8, 8, 1],
            "layers": [{"type": "flatten"}, {"type": "dense", "units": 2}]}
    path = tmp_path / "tabs.json"
    path.write_text(json.dumps(spec, indent="\t"))
    graph = load_graph(path)
    assert graph.spec.description == "a\tb"
    assert graph.output.shape == (2,)


def test_yaml_tags_are_refused(diagnose) -> None:
    text = spec_text("- {type: flatten}\n- {type: dense, units: !!python/int 3}")
    d = only(diagnose(text))  # reported once; the value is then read as if untagged
    assert d.message == "YAML tag 'tag:yaml.org,2002:python/int' is not allowed"
    assert at(d) == position(text, "!!python")
    d = only(diagnose(spec_text("- {type: flatten}\n- {type: dense, units: !custom 3}")))
    assert d.message == "YAML tag '!custom' is not allowed"


def test_exponent_without_a_dot_is_a_float(analyze_text) -> None:
    graph = analyze_text(spec_text("- {type: lrn, alpha: 1e-4, beta: 75E-2, bias: 2}",
                                   tail="training:\n  optimizer: {type: adam, learning_rate: 3e-4, epsilon: 1E-8}\n"))
    lrn = graph.nodes[0].layer
    assert (lrn.alpha, lrn.beta, lrn.bias) == (1e-4, 0.75, 2.0)
    assert isinstance(lrn.alpha, float)
    optimizer = graph.spec.training.optimizer
    assert (optimizer.learning_rate, optimizer.epsilon) == (3e-4, 1e-8)


def test_yaml_anchors_aliases_and_merge_keys(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - &conv {type: conv2d, name: c1, filters: 8, kernel_size: 3, padding: same, activation: relu,
                 kernel_regularizer: &l2 {l2: 0.0005}}
        - <<: *conv
          name: c2
          filters: 16
        - {type: flatten, name: f}
        - {type: dense, name: fc, units: 4, kernel_regularizer: *l2}
    """))
    c1, c2 = graph.node("c1").layer, graph.node("c2").layer
    assert (c2.filters, c2.kernel_size, c2.padding, c2.activation) == (16, 3, "same", "relu")
    assert c2.kernel_regularizer == c1.kernel_regularizer
    assert graph.node("fc").layer.kernel_regularizer.l2 == 0.0005
    assert graph.node("c2").shape == (32, 32, 16)


def test_a_merge_key_does_not_hide_a_duplicate_key(diagnose) -> None:
    text = spec_text("""
        - &conv {type: conv2d, filters: 8, kernel_size: 3}
        - <<: *conv
          filters: 16
          filters: 4
    """)
    d = only(diagnose(text))
    assert d.message.startswith("duplicate key 'filters'")


def test_an_alias_bomb_is_refused(diagnose) -> None:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    d = only(diagnose("\n".join(lines) + "\n"))
    assert "more than" in d.message and "nodes" in d.message


# --- all at once, and the format -----------------------------------------------------------------------------


def test_three_independent_errors_give_three_diagnostics(diagnose) -> None:
    text = spec_text("""
        - {type: conv2d, name: conv1, filters: 96, kernel_size: 11, strides: 4, activation: relu}
        - {type: max_pool2d, name: pool1, pool_size: 3, strides: 2, paddding: valid}
        - {type: flatten, name: conv1}
        - {type: dense, units: true}
    """)
    found = diagnose(text)
    assert [d.message for d in found] == ["unknown key 'paddding'", "duplicate layer name 'conv1'; layer 0 already has "
                                          "it", "expected a number, got the boolean true"]
    assert [d.line for d in found] == [6, 7, 8]


def test_errors_of_every_stage_are_reported_in_one_run(diagnose) -> None:
    # a duplicate YAML key (loader), an unknown key (validation), a groups error (analysis), an unknown input
    text = spec_text("""
        - {type: conv2d, name: a, filters: 8, kernel_size: 3, groups: 2, name: b}
        - {type: conv2d, name: c, filter: 8, kernel_size: 3, inputs: [input]}
        - {type: conv2d, name: d, filters: 8, kernel_size: 3, inputs: [input]}
        - {type: concatenate, inputs: [a, c, e]}
    """)
    found = diagnose(text)
    assert [d.message for d in found] == [
        "groups=2 does not divide the 3 input channels",
        "duplicate key 'name' (first given on line 5)",
        "unknown key 'filter'",
        "unknown input 'e'",
    ]
    assert [d.line for d in found] == [5, 5, 6, 8]


def test_diagnostics_are_sorted_by_position(diagnose) -> None:
    text = spec_text("- {type: flatten, name: class}\n- {type: dense, units: 1.5}\n- {type: dense, units: 2, "
                     "name: 9}")
    found = diagnose(text)
    assert [d.line for d in found] == sorted(d.line for d in found) == [5, 6, 7]


def test_the_diagnostic_format() -> None:
    text = spec_text("- {type: conv2d, filters: 8, kernel_size: 3}\n- {type: dense, units: 10}")
    with pytest.raises(SpecError) as info:
        graph_from_text(text, "spec/net.yaml")
    assert str(info.value) == (
        "spec/net.yaml:6:6: error: layer 1 'dense_1': dense needs a flat input, but its input is 30x30x8\n"
        "    hint: add `- type: flatten` (or a global pooling layer) before it"
    )
    plain = Diagnostic("the spec file is empty", "x.yaml")
    assert plain.format() == "x.yaml:1:1: error: the spec file is empty"


def test_empty_and_non_mapping_documents(diagnose) -> None:
    assert only(diagnose("")).message == "the spec file is empty"
    assert only(diagnose("# only a comment\n")).message == "the spec file holds no document"
    d = only(diagnose("- 1\n- 2\n"))
    assert d.message == "the top level of a spec must be a mapping, not a list"


def test_unused_layer_is_a_warning_not_an_error(analyze_text) -> None:
    graph = analyze_text(spec_text("""
        - {type: conv2d, name: side, filters: 8, kernel_size: 3}
        - {type: flatten, inputs: [input]}
    """))
    warning = only(graph.warnings)
    assert warning.level == "warning"
    assert warning.message == "this layer's output is never used"
    assert (warning.layer, warning.line) == ("side", 5)
