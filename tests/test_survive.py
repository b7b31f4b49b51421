"""What the generated code must survive: TorchScript, torch.export, ONNX, torch.compile, bfloat16; .keras files in a
fresh process, SavedModel, TFLite; and per-module Keras registration. Each path is compared with eager outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from alexgen.loading import load_generated  # noqa: E402
from alexgen.ops import OPS  # noqa: E402
from alexgen.render import render_outputs, write_outputs  # noqa: E402
from alexgen.validate import load_graph  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVERY_OP = ROOT / "tests" / "specs" / "every_op.yaml"
MNIST = ROOT / "spec" / "alexnet_mnist.yaml"
LRN = ROOT / "tests" / "specs" / "lrn.yaml"


def render(specs: list[Path], out: Path) -> Path:
    """Render specs into `out` (both targets), as `alexgen render` writes them."""
    graphs = [
        (load_graph(path, path.relative_to(ROOT).as_posix()), path.relative_to(ROOT).as_posix()) for path in specs
    ]
    write_outputs(render_outputs(graphs, ["keras", "pytorch"]), out)
    return out


def load_module(path: Path, name: str) -> ModuleType:
    """Import a generated module from its file under a unique name."""
    return load_generated(path, name)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render([EVERY_OP, MNIST, LRN], tmp_path_factory.mktemp("survive"))


def test_every_op_spec_uses_every_layer_type() -> None:
    assert {node.type for node in load_graph(EVERY_OP).nodes} - {"input"} == {op.name for op in OPS}


# --- PyTorch --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_net(rendered: Path) -> tuple[ModuleType, Any]:
    """The every_op module and its network in eval mode, with batch-norm statistics far from 0 and 1."""
    import torch

    module = load_module(rendered / "pytorch" / "every_op.py", "survive_every_op_torch")
    torch.manual_seed(0)
    model = module.build_model().eval()
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                layer.running_mean.uniform_(-0.5, 0.5)
                layer.running_var.uniform_(0.5, 2.0)
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.5, 0.5)
    return module, model


def batch(n: int, seed: int = 0) -> Any:
    """A batch of n inputs, N x 3 x 32 x 32."""
    import torch

    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def eager(model: Any, x: Any) -> Any:
    """The model's eager output."""
    import torch

    with torch.no_grad():
        return model(x)


def max_abs(a: Any, b: Any) -> float:
    """Largest absolute difference of two tensors or arrays."""
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def test_torchscript_matches_eager_and_round_trips(torch_net: tuple[ModuleType, Any], tmp_path: Path) -> None:
    import torch

    _, model = torch_net
    scripted = torch.jit.script(model)  # failed while BatchNorm2d.forward called super().forward
    x = batch(3)
    assert max_abs(eager(scripted, x), eager(model, x)) < 1e-6
    torch.jit.save(scripted, tmp_path / "every_op.pt")
    assert max_abs(eager(torch.jit.load(tmp_path / "every_op.pt"), x), eager(model, x)) < 1e-6
    scripted.train()  # the training branch (Keras's biased running variance) compiles and runs too
    before = scripted.bn1.running_var.clone()
    scripted(x)
    assert not torch.equal(scripted.bn1.running_var, before)


def test_torch_export_with_a_dynamic_batch(torch_net: tuple[ModuleType, Any]) -> None:
    import torch

    _, model = torch_net
    exported = torch.export.export(model, (batch(4),), dynamic_shapes={"x": {0: torch.export.Dim("batch", max=4096)}})
    for n in (2, 7):
        x = batch(n, seed=n)
        out = eager(exported.module(), x)
        assert out.shape == (n, 5)
        assert max_abs(out, eager(model, x)) < 1e-6


def test_onnx_export_runs_in_onnxruntime(torch_net: tuple[ModuleType, Any], tmp_path: Path) -> None:
    import onnxruntime
    import torch

    _, model = torch_net
    program = torch.onnx.export(
        model, (batch(4),), dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, dynamo=True, verbose=False
    )
    assert program is not None
    program.save(str(tmp_path / "every_op.onnx"))
    session = onnxruntime.InferenceSession(str(tmp_path / "every_op.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for n in (2, 7):
        x = batch(n, seed=n)
        out = session.run(None, {name: x.numpy()})[0]
        assert out.shape == (n, 5)
        assert max_abs(out, eager(model, x)) < 1e-5


def test_torch_compile_matches_eager(torch_net: tuple[ModuleType, Any]) -> None:
    import torch

    _, model = torch_net
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)  # dynamo + AOTAutograd, no C++ build
    x = batch(3)
    assert max_abs(eager(compiled, x), eager(model, x)) < 1e-6


@pytest.mark.slow
def test_torch_compile_with_inductor_matches_eager(torch_net: tuple[ModuleType, Any]) -> None:
    import torch

    _, model = torch_net
    x = batch(3)
    assert max_abs(eager(torch.compile(model), x), eager(model, x)) < 1e-5  # ~30 s: inductor builds C++ kernels


def test_bfloat16_inference(torch_net: tuple[ModuleType, Any]) -> None:
    import copy

    import torch

    _, model = torch_net
    x = batch(4)
    half = copy.deepcopy(model).to(torch.bfloat16)  # failed: LocalResponseNorm's avg_pool3d has no CPU bf16 kernel
    out = eager(half, x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    assert max_abs(out.float(), eager(model, x)) < 2e-2  # softmax probabilities, bf16 has an 8-bit mantissa


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_lrn_computes_half_precision_in_float32(torch_net: tuple[ModuleType, Any], dtype: str) -> None:
    import torch

    module, _ = torch_net
    lrn = module.LocalResponseNorm(3, alpha=0.03, beta=0.75, k=2.0)
    x = torch.randn(2, 8, 5, 5, generator=torch.Generator().manual_seed(1)) * 4
    low = getattr(torch, dtype)
    out = lrn(x.to(low))
    assert out.dtype == low
    expected = torch.nn.LocalResponseNorm(3, alpha=0.03, beta=0.75, k=2.0)(x.to(low).float())
    assert torch.equal(out, expected.to(low))  # exactly the float32 result, rounded once


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lrn_full_precision_is_nn_local_response_norm(torch_net: tuple[ModuleType, Any], dtype: str) -> None:
    import torch

    module, _ = torch_net
    x = torch.randn(2, 8, 5, 5, dtype=getattr(torch, dtype), generator=torch.Generator().manual_seed(2)) * 4
    for args in ((3, 0.03, 0.75, 2.0), (5, 5e-4, 0.75, 1.0)):
        ours = module.LocalResponseNorm(args[0], alpha=args[1], beta=args[2], k=args[3])
        theirs = torch.nn.LocalResponseNorm(args[0], alpha=args[1], beta=args[2], k=args[3])
        assert torch.equal(ours(x), theirs(x))


# --- Keras ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_net(rendered: Path) -> tuple[ModuleType, Any]:
    """The every_op Keras module and its compiled network."""
    module = load_module(rendered / "keras" / "every_op.py", "survive_every_op_keras")
    return module, module.compile_model(module.build_model())


def keras_batch(n: int, shape: tuple[int, ...] = (32, 32, 3), seed: int = 0) -> np.ndarray:
    """A batch of n channels-last float32 inputs."""
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


FRESH_LOAD = """
import sys, numpy as np, keras
from alexgen.keras_io import KerasLoadError, load_keras_model
path, module, inputs, expected = sys.argv[1:5]
try:
    keras.saving.load_model(path)  # the generated module is not imported: Keras's own message misleads
    print("PLAIN LOADED")
except Exception as exc:
    print("PLAIN", type(exc).__name__, str(exc).splitlines()[0])
try:
    load_keras_model(path)
    print("HELPER LOADED")
except KerasLoadError as exc:
    print("HELPER", exc)
model = load_keras_model(path, module=module)  # imports the generated module, then loads
out = np.asarray(model(np.load(inputs), training=False))
print("DIFF", float(np.max(np.abs(out - np.load(expected)))))
print("OPTIMIZER", type(model.optimizer).__module__, type(model.optimizer).__name__,
      model.optimizer.coupled_weight_decay)
print("LAYER", type(model.get_layer("norm1")).__module__)
"""


def test_keras_file_loads_in_a_fresh_process(keras_net: tuple[ModuleType, Any], rendered: Path, tmp_path: Path) -> None:
    _, model = keras_net
    x = keras_batch(3)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asarray(model(x, training=False)))
    model.save(tmp_path / "every_op.keras")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH_LOAD,
            str(tmp_path / "every_op.keras"),
            str(rendered / "keras" / "every_op.py"),
            str(tmp_path / "x.npy"),
            str(tmp_path / "y.npy"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in result.stdout.splitlines() if " " in line}
    assert "could not be deserialized" in lines["PLAIN"]  # Keras's message, which names no class
    helper = lines["HELPER"]
    for cls in ("LocalResponseNormalization", "GELU", "SGDWithCoupledWeightDecay"):
        assert f"'{cls}' (registered as 'alexgen.every_op>{cls}')" in helper
    assert "import generated.keras.every_op" in helper
    assert float(lines["DIFF"]) < 1e-6
    assert lines["OPTIMIZER"] == "alexgen_loaded_every_op SGDWithCoupledWeightDecay 0.0005"
    assert lines["LAYER"] == "alexgen_loaded_every_op"


def test_saved_model_export_reloads_and_runs(keras_net: tuple[ModuleType, Any], tmp_path: Path) -> None:
    import tensorflow as tf

    _, model = keras_net
    model.export(str(tmp_path / "saved"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))
    for n in (1, 4):
        x = keras_batch(n, seed=n)
        assert max_abs(reloaded.serve(tf.constant(x)), model(x, training=False)) < 1e-6


def test_tflite_conversion_of_the_mnist_spec(rendered: Path) -> None:
    import tensorflow as tf

    module = load_module(rendered / "keras" / "alexnet_mnist.py", "survive_alexnet_mnist_keras")
    model = module.build_model()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    given, produced = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    for seed in (1, 2):
        x = keras_batch(1, (28, 28, 1), seed=seed)
        interpreter.set_tensor(given["index"], x)
        interpreter.invoke()
        assert max_abs(interpreter.get_tensor(produced["index"]), model(x, training=False)) < 1e-5


# --- Keras registration -----------------------------------------------------------------------------------------


def test_two_modules_keep_their_own_registered_classes(
    keras_net: tuple[ModuleType, Any], rendered: Path, tmp_path: Path
) -> None:
    import keras

    every_op, model = keras_net
    lrn = load_module(rendered / "keras" / "lrn.py", "survive_lrn_keras")  # imported after: used to replace it
    assert every_op.LocalResponseNormalization is not lrn.LocalResponseNormalization
    registered = keras.saving.get_registered_object
    assert registered("alexgen.every_op>LocalResponseNormalization") is every_op.LocalResponseNormalization
    assert registered("alexgen.lrn>LocalResponseNormalization") is lrn.LocalResponseNormalization
    assert registered("alexgen.every_op>GELU") is every_op.GELU
    model.save(tmp_path / "every_op.keras")
    loaded = keras.saving.load_model(tmp_path / "every_op.keras")
    assert type(loaded.get_layer("norm1")) is every_op.LocalResponseNormalization
    other = lrn.build_model()
    other.save(tmp_path / "lrn.keras")
    assert (
        type(keras.saving.load_model(tmp_path / "lrn.keras").get_layer("norm_paper")) is lrn.LocalResponseNormalization
    )


def rewrite_config(source: Path, target: Path, old: str, new: str) -> None:
    """A copy of a .keras file with `old` replaced by `new` in its config.json."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for item in archive.infolist():
            data = archive.read(item)
            out.writestr(item, data.decode().replace(old, new) if item.filename == "config.json" else data)


def test_load_keras_model_names_missing_classes_and_maps_old_names(
    keras_net: tuple[ModuleType, Any], tmp_path: Path
) -> None:
    from alexgen.keras_io import KerasLoadError, load_keras_model, needed_classes

    every_op, model = keras_net
    model.save(tmp_path / "every_op.keras")
    assert needed_classes(tmp_path / "every_op.keras") == [
        f"alexgen.every_op>{cls}" for cls in ("LocalResponseNormalization", "GELU", "SGDWithCoupledWeightDecay")
    ]
    assert "alexgen.every_op>SGDWithCoupledWeightDecay" not in needed_classes(
        tmp_path / "every_op.keras", compile=False
    )
    rewrite_config(tmp_path / "every_op.keras", tmp_path / "missing.keras", "alexgen.every_op>", "alexgen.gone>")
    with pytest.raises(KerasLoadError, match=r"'GELU' \(registered as 'alexgen.gone>GELU'\).*generated.keras.gone"):
        load_keras_model(tmp_path / "missing.keras")
    rewrite_config(tmp_path / "every_op.keras", tmp_path / "old.keras", "alexgen.every_op>", "alexgen>")
    with pytest.raises(KerasLoadError, match="from before alexgen registered"):
        load_keras_model(tmp_path / "old.keras")
    loaded = load_keras_model(tmp_path / "old.keras", module=every_op)  # old `alexgen>` names, mapped to the module
    x = keras_batch(2)
    assert max_abs(loaded(x, training=False), model(x, training=False)) < 1e-6
    with pytest.raises(KerasLoadError, match="not a readable .keras file"):
        load_keras_model(tmp_path / "x.npy")


def test_importing_a_keras_file_names_the_missing_class(keras_net: tuple[ModuleType, Any], tmp_path: Path) -> None:
    from alexgen.importers import ImportFailed
    from alexgen.importers.keras import load

    _, model = keras_net
    model.save(tmp_path / "every_op.keras")
    rewrite_config(tmp_path / "every_op.keras", tmp_path / "missing.keras", "alexgen.every_op>", "alexgen.gone>")
    with pytest.raises(ImportFailed) as info:
        load(tmp_path / "missing.keras", "missing.keras")
    assert "'LocalResponseNormalization' (registered as 'alexgen.gone>LocalResponseNormalization')" in str(
        info.value.diagnostics[0].message
    )


def test_keras_file_config_names_the_module_package(keras_net: tuple[ModuleType, Any], tmp_path: Path) -> None:
    _, model = keras_net
    model.save(tmp_path / "every_op.keras")
    with zipfile.ZipFile(tmp_path / "every_op.keras") as archive:
        config = json.loads(archive.read("config.json"))
    assert '"registered_name": "alexgen>' not in json.dumps(config)
    assert config["compile_config"]["optimizer"]["registered_name"] == "alexgen.every_op>SGDWithCoupledWeightDecay"
