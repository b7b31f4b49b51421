"""One home per layer type: every op is registered once and nothing outside alexgen/ops tests a node's type."""

from __future__ import annotations

import re

from conftest import ROOT

from alexgen.ops import OPS, op_named
from alexgen.spec import LAYER_MODELS

# `x.type == ...`, `x.type in ...`, `type != ...`: a comparison on a layer type (optimizer and initializer tags are
# compared through isinstance or their own tables, so they never match).
TYPE_TEST = re.compile(r"\.type\s*(==|!=|\bin\b|\bnot in\b)|\btype\s*(==|!=)\s*[\"']")
# `keys["type"] == "conv2d"`, `raw.get("type") in WEIGHTED`: the same test on a spec mapping (importers, raw data).
# It is a layer-type test when the line names an op, or when the compared constant is defined with op names.
KEY_TEST = re.compile(r"""(\[["']type["']\]|\.get\(["']type["']\))\s*(==|!=|\bnot in\b|\bin\b)\s*(?P<rhs>\S+)""")
OP_NAME = re.compile(r"""["'](?P<name>[a-z0-9_]+)["']""")


def names_ops(text: str) -> bool:
    """Whether `text` holds a quoted registered op name."""
    return any(op_named(m.group("name")) is not None for m in OP_NAME.finditer(text))


def key_type_test(line: str, source: str) -> bool:
    """A comparison of a mapping's `type` with op names: on the line itself, or in the constant it compares with."""
    found = KEY_TEST.search(line)
    if found is None:
        return False
    constant = re.match(r"[A-Z_][A-Z0-9_]*", found.group("rhs"))
    definition = re.search(rf"^{constant.group(0)}\b.*=(.*)$", source, flags=re.M) if constant else None
    return names_ops(line) or (definition is not None and names_ops(definition.group(1)))


def test_no_layer_type_tests_outside_the_ops_package() -> None:
    found = []
    for path in sorted((ROOT / "alexgen").rglob("*.py")):
        if "ops" in path.relative_to(ROOT / "alexgen").parts[:1]:
            continue
        source = path.read_text(encoding="utf-8")
        for number, line in enumerate(source.splitlines(), 1):
            code = line.split("#", 1)[0]
            if TYPE_TEST.search(code) or key_type_test(code, source):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_pattern_finds_type_tests() -> None:
    for line in ('if node.type == "conv2d":', "if layer.type in POOLS:", "x = n.type not in {'a'}",
                 'kind = type == "dense"'):
        assert TYPE_TEST.search(line), line
    assert not TYPE_TEST.search("emitter = EMITTERS.get(node.op.name)")
    source = 'WEIGHTED = ("conv2d", "dense")\nSCALARS = {"integer", "number"}\n'
    for line in ('if item.keys["type"] == "activation" and item.fold:', "if keys['type'] != 'concatenate':",
                 'if source.keys["type"] in WEIGHTED:', 'if raw.get("type") not in ("flatten", "dropout"):'):
        assert key_type_test(line, source), line
    for line in ('if error["type"] == "missing":', 'constrained = result.get("type") in SCALARS',
                 'if data.get("type") == part:'):
        assert not key_type_test(line, source), line


def test_every_op_is_registered_once_with_its_model() -> None:
    names = [op.name for op in OPS]
    assert len(names) == len(set(names))
    assert set(names) == set(LAYER_MODELS)
    for op in OPS:
        assert op_named(op.name) is op
        assert op.model.model_fields["type"].annotation.__args__ == (op.name,)
        assert op.keras is not None or op.name in {"concatenate"} or op.pytorch_functional is not None
    assert op_named("no_such_layer") is None


def test_every_op_module_is_listed_in_the_registry() -> None:
    modules = {p.stem for p in (ROOT / "alexgen" / "ops").glob("*.py") if not p.stem.startswith("_")} - {"base"}
    registry = (ROOT / "alexgen" / "ops" / "__init__.py").read_text()
    assert all(f"    {name}.OP," in registry for name in modules), modules
    assert len(modules) == len(OPS)
