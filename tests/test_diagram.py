"""`alexgen diagram`: one box per layer and the right edges in the SVG, a valid PNG, a layout that keeps boxes
and edges apart, deterministic output, and clean errors that write nothing."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT, SPEC_PATHS

pytest.importorskip("matplotlib")

from alexgen.diagram import BOX_H, BOX_W, MAX_ROWS, Placed, caption, draw, layout, ranks, route  # noqa: E402
from alexgen.netview import INPUT, NetView, from_graph  # noqa: E402
from alexgen.validate import graph_from_text, load_graph  # noqa: E402

ALL_SPECS = SPEC_PATHS + sorted((ROOT / "tests" / "specs").glob("*.yaml"))
SVG = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chain_spec(blocks: int) -> str:
    """A chain of 4 * blocks + 3 layers (conv, batch norm, relu, dropout per block, then a small head)."""
    lines = ["alexgen: 1", "name: long_chain", "input_shape: [32, 32, 3]", "layers:"]
    for i in range(blocks):
        lines += [
            f"  - {{type: conv2d, name: conv{i}, filters: 8, kernel_size: 3, padding: same}}",
            f"  - {{type: batch_norm, name: bn{i}}}",
            f"  - {{type: activation, name: relu{i}, activation: relu}}",
            f"  - {{type: dropout, name: drop{i}, rate: 0.1}}",
        ]
    lines += [
        "  - {type: global_avg_pool2d, name: gap}",
        "  - {type: dense, name: fc, units: 16, activation: relu}",
        "  - {type: dense, name: out, units: 10, activation: softmax}",
    ]
    return "\n".join(lines) + "\n"


def towers_spec(depth: int) -> str:
    """Two towers of `depth` convolutions joined, plus a skip from the input's first conv into the join."""
    lines = [
        "alexgen: 1",
        "name: deep_towers",
        "input_shape: [16, 16, 3]",
        "layers:",
        "  - {type: conv2d, name: stem, filters: 4, kernel_size: 3, padding: same, inputs: [input]}",
    ]
    for tower in (1, 2):
        lines.append(
            f"  - {{type: conv2d, name: t{tower}_0, filters: 4, kernel_size: 3, padding: same, inputs: [stem]}}"
        )
        lines += [
            f"  - {{type: conv2d, name: t{tower}_{i}, filters: 4, kernel_size: 3, padding: same}}"
            for i in range(1, depth)
        ]
    lines += [
        f"  - {{type: concatenate, name: join, inputs: [t1_{depth - 1}, t2_{depth - 1}, stem]}}",
        "  - {type: flatten, name: flat}",
        "  - {type: dense, name: out, units: 3, activation: softmax}",
    ]
    return "\n".join(lines) + "\n"


def view(path: Path) -> NetView:
    """The plain view of a spec file."""
    return from_graph(load_graph(path))


def svg_ids(data: bytes) -> list[str]:
    """Every element id of an SVG document (parsing fails the test when it is not well-formed XML)."""
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    return [element.get("id") for element in root.iter() if element.get("id")]


def expected_edges(net: NetView) -> set[str]:
    """One edge per (input, layer) pair."""
    return {f"edge-{ref}-{layer.name}" for layer in net.layers for ref in layer.inputs}


@pytest.mark.parametrize("path", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_every_spec_renders_one_box_per_layer_and_its_edges(path: Path) -> None:
    net = view(path)
    ids = svg_ids(draw(net, "svg"))
    boxes = [i for i in ids if i.startswith("layer-")]
    assert sorted(boxes) == sorted(f"layer-{layer.name}" for layer in net.layers)
    assert ids.count("input-node") == 1
    assert {i for i in ids if i.startswith("edge-")} == expected_edges(net)
    assert len([i for i in ids if i.startswith("edge-")]) == len(expected_edges(net))


def test_two_tower_edges_are_the_graphs() -> None:
    ids = set(svg_ids(draw(view(ROOT / "spec" / "alexnet_two_tower.yaml"), "svg")))
    assert {
        "edge-input-t1_conv1",
        "edge-input-t2_conv1",
        "edge-t1_pool2-merge2",
        "edge-t2_pool2-merge2",
        "edge-merge2-t1_conv3",
        "edge-merge2-t2_conv3",
        "edge-merge7-drop7",
    } <= ids
    assert "edge-t1_conv1-t2_pool1" not in ids
    assert "edge-input-t1_pool1" not in ids


def test_each_join_is_labelled_by_its_own_op() -> None:
    """A concatenate box reads `concat (...)`, an add box `add` (each op's describe hook), never the other's."""
    from alexgen.diagram import _box_text

    text = (
        "alexgen: 1\nname: joins\ninput_shape: [8, 8, 4]\nlayers:\n"
        "  - {type: conv2d, name: a, filters: 4, kernel_size: 3, padding: same, inputs: [input]}\n"
        "  - {type: add, name: sum, inputs: [a, input]}\n"
        "  - {type: concatenate, name: cat, inputs: [sum, a]}\n"
        "  - {type: flatten, name: flat}\n"
    )
    layers = {layer.name: layer for layer in from_graph(graph_from_text(text)).layers}
    assert _box_text(layers["sum"])[2].splitlines()[0] == "add"
    assert _box_text(layers["cat"])[2].splitlines()[0] == "concat (channels)"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", ["alexnet_two_tower", "alexnet"])
def test_png_is_valid_and_sized_by_the_layout(name: str) -> None:
    import io

    import matplotlib.image

    net = view(ROOT / "spec" / f"{name}.yaml")
    data = draw(net, "png")
    width, height = png_size(data)
    pixels = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (height, width)
    assert pixels.min() < 0.5 < pixels.max()  # something is drawn on the white page
    rows = max(p.row for p in layout(net).values()) + 1
    assert height > rows * 0.5 * 150  # at least half an inch per row at 150 dpi: legible, not squeezed


def test_two_tower_layout_puts_towers_side_by_side_and_joins_between() -> None:
    places = layout(view(ROOT / "spec" / "alexnet_two_tower.yaml"))
    for depth in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5", "flatten", "fc6", "fc7"):
        left, right = places[f"t1_{depth}"], places[f"t2_{depth}"]
        assert left.row == right.row, depth
        assert right.x - left.x >= 1.0, depth
    for join, (a, b) in {"merge2": ("t1_pool2", "t2_pool2"), "merge5": ("t1_flatten", "t2_flatten")}.items():
        assert places[a].x < places[join].x < places[b].x
        assert places[join].row == places[a].row + 1


def test_ranks_are_longest_paths() -> None:
    net = view(ROOT / "tests" / "specs" / "two_tower_small.yaml")
    rank = ranks(net)
    assert rank[INPUT] == 0
    assert rank["t1_conv1"] == rank["t2_conv1"] == 1
    # merge_flat reads t1_flatten (rank 5), t2_flatten (rank 4) and side (rank 5): one below the deepest
    assert (rank["t1_flatten"], rank["t2_flatten"], rank["side"], rank["merge_flat"]) == (5, 4, 5, 6)


@pytest.mark.parametrize("text", [chain_spec(15), towers_spec(30)], ids=["chain_63", "towers_64"])
def test_long_networks_wrap_into_columns_of_legible_height(text: str) -> None:
    net = from_graph(graph_from_text(text))
    assert len(net.layers) >= 60
    places = layout(net)
    assert max(p.row for p in places.values()) < MAX_ROWS
    assert max(p.segment for p in places.values()) >= 1
    ids = svg_ids(draw(net, "svg"))
    assert len([i for i in ids if i.startswith("layer-")]) == len(net.layers)
    assert {i for i in ids if i.startswith("edge-")} == expected_edges(net)


def _inside(point: tuple[float, float], place: Placed) -> bool:
    return abs(point[0] - place.x) < BOX_W / 2 - 1e-6 and abs(point[1] - place.row) < BOX_H / 2 - 1e-6


LAYOUT_CASES = [(str(p), p.read_text()) for p in ALL_SPECS] + [
    ("chain_63", chain_spec(15)),
    ("towers_64", towers_spec(30)),
]


@pytest.mark.parametrize(("name", "text"), LAYOUT_CASES, ids=[Path(n).stem for n, _ in LAYOUT_CASES])
def test_boxes_do_not_overlap_and_edges_pass_no_other_box(name: str, text: str) -> None:
    net = from_graph(graph_from_text(text, name if name.endswith(".yaml") else f"{name}.yaml"))
    places = layout(net)
    by_cell: dict[tuple[int, int], list[float]] = {}
    for place in places.values():
        by_cell.setdefault((place.segment, place.row), []).append(place.x)
    for xs in by_cell.values():
        xs.sort()
        assert all(b - a >= 1.0 - 1e-9 for a, b in zip(xs, xs[1:], strict=False)), xs
    for layer in net.layers:
        for ref in layer.inputs:
            points = route(places, ref, layer.name)
            others = [p for n, p in places.items() if n not in (ref, layer.name)]
            for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
                for step in range(41):
                    t = step / 40
                    point = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
                    hit = [p for p in others if _inside(point, p)]
                    assert not hit, f"edge {ref}->{layer.name} crosses a box at {point}"


def test_svg_is_deterministic_across_runs_and_hash_seeds(tmp_path: Path) -> None:
    spec = ROOT / "tests" / "specs" / "two_tower_small.yaml"
    first = draw(view(spec), "svg")
    assert draw(view(spec), "svg") == first
    out = tmp_path / "other.svg"
    result = subprocess.run(
        [sys.executable, "-m", "alexgen", "diagram", str(spec), "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**_env(), "PYTHONHASHSEED": "12345"},
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == first
    assert b"<dc:date>" not in first


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_caption_has_the_totals() -> None:
    text = caption(view(ROOT / "spec" / "alexnet_bn.yaml"))
    assert "16 layers" in text
    assert "62,379,752 parameters (704 non-trainable)" in text
    assert "input 227x227x3 → output 1000" in text


def test_committed_readme_image_shows_the_two_tower_spec() -> None:
    image = ROOT / "docs" / "images" / "alexnet_two_tower.svg"
    net = view(ROOT / "spec" / "alexnet_two_tower.yaml")
    ids = svg_ids(image.read_bytes())
    assert sorted(i for i in ids if i.startswith("layer-")) == sorted(f"layer-{layer.name}" for layer in net.layers)
    assert {i for i in ids if i.startswith("edge-")} == expected_edges(net)
    assert "docs/images/alexnet_two_tower.svg" in (ROOT / "README.md").read_text(encoding="utf-8")


# --- the command line -----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".svg", ".png", ".PNG"])
def test_cli_writes_the_file(alexgen_cli, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"net{suffix}"
    result = alexgen_cli("diagram", "spec/alexnet_paper.yaml", "-o", str(out))
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    if suffix.lower() == ".png":
        assert png_size(data)[0] > 500
    else:
        assert len([i for i in svg_ids(data) if i.startswith("layer-")]) == 16
    assert "16 layers" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


@pytest.mark.parametrize("name", ["net.pdf", "net", "net.svg.txt"])
def test_unknown_extension_is_a_clear_error_and_writes_nothing(alexgen_cli, tmp_path: Path, name: str) -> None:
    result = alexgen_cli("diagram", "spec/alexnet.yaml", "-o", str(tmp_path / name))
    assert result.returncode == 2
    assert "unknown diagram format" in result.stderr
    assert "use a file name ending in .svg or .png" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_invalid_spec_gives_located_diagnostics_and_keeps_the_old_file(alexgen_cli, tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("alexgen: 1\nname: broken\ninput_shape: [32, 32, 3]\nlayers:\n  - {type: dense, unit: 10}\n")
    out = tmp_path / "net.svg"
    out.write_text("old")
    result = alexgen_cli("diagram", str(spec), "-o", str(out))
    assert result.returncode == 2
    assert f"{spec}:5:19: error: layer 0 'dense_1': unknown key 'unit'" in result.stderr
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml", "net.svg"]


def test_missing_folder_is_a_clear_error(alexgen_cli, tmp_path: Path) -> None:
    result = alexgen_cli("diagram", "spec/alexnet.yaml", "-o", str(tmp_path / "nowhere" / "net.svg"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_diagram_imports_matplotlib_but_no_framework() -> None:
    code = "\n".join(
        [
            "import sys, tempfile, os",
            "from click.testing import CliRunner",
            "from alexgen.cli import cli",
            "assert 'matplotlib' not in sys.modules",
            "out = os.path.join(tempfile.mkdtemp(), 'n.svg')",
            "result = CliRunner().invoke(cli, ['diagram', 'spec/alexnet_two_tower.yaml', '-o', out])",
            "assert result.exit_code == 0, result.output",
            "assert 'matplotlib' in sys.modules",
            "loaded = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; assert not loaded, loaded",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_cli_set_draws_the_overridden_network(alexgen_cli, tmp_path: Path) -> None:
    resolved = alexgen_cli("resolve", "spec/alexnet.yaml", "--set", "num_classes=10")
    assert resolved.returncode == 0, resolved.stderr
    (tmp_path / "ten.yaml").write_text(resolved.stdout, encoding="utf-8")
    drawn = {}
    for name, args in {"set": ("spec/alexnet.yaml", "--set", "num_classes=10"), "file": (str(tmp_path / "ten.yaml"),),
                       "plain": ("spec/alexnet.yaml",)}.items():
        result = alexgen_cli("diagram", *args, "-o", str(tmp_path / f"{name}.svg"))
        assert result.returncode == 0, result.stderr
        drawn[name] = (tmp_path / f"{name}.svg").read_bytes()
    assert drawn["set"] == drawn["file"] != drawn["plain"]
    bad = alexgen_cli("diagram", "spec/alexnet.yaml", "--set", "layers.nope.units=3", "-o", str(tmp_path / "bad.svg"))
    assert bad.returncode == 2 and "--set layers.nope.units: no layer named 'nope'" in bad.stderr
    assert not (tmp_path / "bad.svg").exists()
