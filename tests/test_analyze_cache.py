"""The analyze cache: a hit reports exactly what validating again would, and anything that could change the result
misses it (the spec, a base it extends, --set, the budget, alexgen's code); a broken entry is ignored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from test_cli import INVALID

from alexgen import analyze_cache, validate
from alexgen.budget import DEFAULT_BUDGET
from alexgen.cli import cli

SPECS = sorted([*(ROOT / "spec").glob("*.yaml"), *(ROOT / "tests" / "specs").rglob("*.yaml")])
FORMATS = ("table", "json", "markdown")
WARNS = """\
alexgen: 1
name: unused
input_shape: [8, 8, 1]
layers:
  - {type: conv2d, name: side, filters: 2, kernel_size: 3}
  - {type: flatten, inputs: [input]}
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder of this test's own; the table 100 columns wide."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "100")
    return tmp_path / "xdg" / "alexgen" / "analyze"


def analyze(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `alexgen analyze ARGS`, in process."""
    result = CliRunner().invoke(cli, ["analyze", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def entries(folder: Path) -> list[Path]:
    """The cache entries written so far."""
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_cached_result_equals_the_uncached_one(cache: Path, spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = {fmt: analyze(str(spec), "--format", fmt, "--no-cache") for fmt in FORMATS}
    assert entries(cache) == []  # --no-cache neither reads nor writes
    assert all(code == 0 for code, _, _ in fresh.values()), fresh
    assert analyze(str(spec), "--format", "json") == fresh["json"]  # the miss, which writes the entry
    assert len(entries(cache)) == 1
    monkeypatch.setattr(validate, "load_graph", None)  # any validation now crashes
    for fmt in FORMATS:
        assert analyze(str(spec), "--format", fmt) == fresh[fmt]


def test_the_bundled_default_is_cached_too(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = analyze()
    assert first[0] == 0 and "62,378,344" in first[1] and len(entries(cache)) == 1
    monkeypatch.setattr(validate, "load_graph", None)
    assert analyze() == first


def test_warnings_are_printed_again_on_a_hit(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "unused.yaml"
    path.write_text(WARNS)
    first = analyze(str(path), "--format", "json")
    assert "warning: layer 0 'side': this layer's output is never used" in first[2]
    assert len(entries(cache)) == 1
    assert analyze(str(path), "--format", "json") == first


def test_a_changed_spec_file_misses_the_cache(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(WARNS)
    analyze(str(path), "--format", "json")
    path.write_text(WARNS.replace("filters: 2", "filters: 3"))
    code, out, _ = analyze(str(path), "--format", "json")
    assert code == 0
    assert json.loads(out)["layers"][0]["params"] == 3 * 3 * 3 + 3  # the new file's, not the cached 2 filters
    assert len(entries(cache)) == 2


def test_a_changed_base_misses_the_cache(cache: Path, tmp_path: Path) -> None:
    for name in ("alexnet.yaml", "alexnet_plain.yaml"):
        shutil.copy(ROOT / "spec" / name, tmp_path / name)
    variant = str(tmp_path / "alexnet.yaml")
    before = json.loads(analyze(variant, "--format", "json")[1])
    base = tmp_path / "alexnet_plain.yaml"
    base.write_text(base.read_text().replace("filters: 96,", "filters: 64,", 1))
    after = json.loads(analyze(variant, "--format", "json")[1])
    assert after["total_params"] < before["total_params"]
    assert after == json.loads(analyze(variant, "--format", "json", "--no-cache")[1])


def test_set_values_and_budgets_are_part_of_the_key(cache: Path) -> None:
    spec = str(ROOT / "spec" / "vgg16.yaml")
    default = json.loads(analyze(spec, "--format", "json")[1])
    ten = json.loads(analyze(spec, "--format", "json", "--set", "num_classes=10")[1])
    assert default["output_shape"] == [1000] and ten["output_shape"] == [10]
    assert json.loads(analyze(spec, "--format", "json", "--set", "num_classes=10")[1]) == ten
    assert len(entries(cache)) == 2
    code, out, err = analyze(spec, "--format", "json", "--max-params", "1000")  # cached when valid, refused here
    assert (code, out) == (2, "") and "--max-params" in err
    assert len(entries(cache)) == 2


def test_a_spec_shown_under_another_name_misses_the_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(ROOT / "spec" / "alexnet_mnist.yaml", tmp_path / "net.yaml")
    monkeypatch.chdir(tmp_path)
    assert "(net.yaml)" in analyze("net.yaml")[1]
    assert "(./net.yaml)" in analyze("./net.yaml")[1]  # the same file, named as the command line names it
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "net.yaml", tmp_path / "copy" / "net.yaml")
    monkeypatch.chdir(tmp_path / "copy")
    assert analyze("net.yaml")[0] == 0  # the same name and bytes, another file: its own entry
    assert len(entries(cache)) == 3


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{not json",
        b"[]",
        b"null",
        b'{"format": 1}',
        "truncate",
        "negative params",
        "wrong key",
        "missing base",
        "bad warning",
    ],
)
def test_a_damaged_entry_is_ignored_and_replaced(cache: Path, tmp_path: Path, damage: object) -> None:
    for name in ("alexnet.yaml", "alexnet_plain.yaml"):
        shutil.copy(ROOT / "spec" / name, tmp_path / name)
    spec = str(tmp_path / "alexnet.yaml")
    fresh = analyze(spec, "--format", "json", "--no-cache")
    analyze(spec, "--format", "json")
    (entry,) = entries(cache)
    text = entry.read_text()
    data = json.loads(text)
    if isinstance(damage, bytes):
        entry.write_bytes(damage)
    elif damage == "truncate":
        entry.write_text(text[: len(text) // 2])
    elif damage == "negative params":
        data["facts"]["nodes"][0][4] = -1
        entry.write_text(json.dumps(data))
    elif damage == "wrong key":
        data["key"] = "0" * 64
        entry.write_text(json.dumps(data))
    elif damage == "missing base":
        (tmp_path / "alexnet_plain.yaml").rename(tmp_path / "gone.yaml")
        shutil.copy(tmp_path / "gone.yaml", tmp_path / "alexnet_plain.yaml")
        data["bases"][0][0] = str(tmp_path / "nowhere.yaml")
        entry.write_text(json.dumps(data))
    elif damage == "bad warning":
        data["warnings"] = [["message", "file", "one", 1, None, None, None, "warning"]]
        entry.write_text(json.dumps(data))
    assert analyze(spec, "--format", "json") == fresh
    assert json.loads(entry.read_text()) == json.loads(text)  # the miss wrote the entry again, whole


def test_a_well_formed_entry_is_what_a_hit_reports(cache: Path, tmp_path: Path) -> None:
    """The converse of the tests above: the cache is really read (a forged entry shows), and --no-cache and
    ALEXGEN_NO_CACHE bypass it."""
    path = tmp_path / "net.yaml"
    path.write_text(WARNS)
    fresh = analyze(str(path), "--format", "json")
    (entry,) = entries(cache)
    data = json.loads(entry.read_text())
    data["facts"]["name"] = "forged"
    entry.write_text(json.dumps(data))
    assert json.loads(analyze(str(path), "--format", "json")[1])["name"] == "forged"
    assert analyze(str(path), "--format", "json", "--no-cache") == fresh
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALEXGEN_NO_CACHE", "1")
        assert analyze_cache.cache_dir() is None
        assert analyze(str(path), "--format", "json") == fresh


def test_invalid_specs_are_never_cached_and_keep_their_diagnostics(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(INVALID)
    uncached = analyze(str(path), "--no-cache")
    assert uncached[0] == 2 and f"{path}:6:19: error: layer 1 'dense_1': unknown key 'unit'" in uncached[2]
    assert analyze(str(path)) == uncached
    assert analyze(str(path)) == uncached
    assert entries(cache) == []
    missing = analyze(str(tmp_path / "nope.yaml"))
    assert missing[0] == 2 and "no such file" in missing[2]


def test_an_unwritable_cache_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    spec = str(ROOT / "spec" / "alexnet_mnist.yaml")
    assert analyze(spec, "--format", "json") == analyze(spec, "--format", "json", "--no-cache")
    assert blocker.read_text() == "not a folder"


def test_a_relative_cache_home_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert analyze_cache.cache_dir() == tmp_path / ".cache" / "alexgen" / "analyze"


def test_the_code_fingerprint_follows_every_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "alexgen"
    (package / "ops").mkdir(parents=True)
    module = package / "ops" / "conv2d.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(analyze_cache, "PACKAGE", package)
    before = analyze_cache.code_fingerprint()
    module.write_text("x = 22\n")
    assert analyze_cache.code_fingerprint() != before
    spec = ROOT / "spec" / "alexnet_mnist.yaml"
    key = analyze_cache.ticket(spec, "a", (), DEFAULT_BUDGET).key
    module.write_text("x = 333\n")
    assert analyze_cache.ticket(spec, "a", (), DEFAULT_BUDGET).key != key


def test_a_cached_analyze_builds_no_spec_models(cache: Path) -> None:
    """The point of the cache: a repeat `alexgen analyze` imports neither pydantic nor yaml (nor jinja2)."""
    command = [sys.executable, "-m", "alexgen", "analyze", "--format", "json"]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert first.returncode == 0 and len(entries(cache)) == 1, first.stderr
    code = (
        "import sys; from alexgen.cli import main; sys.argv = ['alexgen', 'analyze', '--format', 'json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'pydantic', 'pydantic_core', 'yaml', 'jinja2', 'torch'}), file=sys.stderr)"
    )
    again = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert again.stderr.strip().splitlines()[-1] == "[]", again.stderr


def test_a_spec_read_from_a_pipe_is_read_once_and_not_cached(cache: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alexgen", "analyze", "/dev/stdin", "--format", "json"],
        input=WARNS,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output_shape"] == [64]
    assert entries(cache) == []


def test_the_cache_keeps_the_most_recently_used_entries(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analyze_cache, "MAX_ENTRIES", 2)
    paths = []
    for number in range(3):
        path = tmp_path / f"net{number}.yaml"
        path.write_text(WARNS.replace("filters: 2", f"filters: {number + 2}"))
        paths.append(path)
    analyze(str(paths[0]))
    analyze(str(paths[1]))
    old = min(e.stat().st_mtime_ns for e in entries(cache)) - 10**10
    for entry in entries(cache):  # net0's entry the older of the two, by seconds
        age = old if json.loads(entry.read_text())["facts"]["path"] == str(paths[0]) else old + 10**9
        os.utime(entry, ns=(age, age))
    analyze(str(paths[0]))  # a hit: net0's entry is now the most recently used
    analyze(str(paths[2]))  # a third entry: the least recently used (net1's) goes
    kept = {json.loads(e.read_text())["facts"]["path"] for e in entries(cache)}
    assert kept == {str(paths[0]), str(paths[2])}
