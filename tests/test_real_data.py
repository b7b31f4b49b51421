"""Real data, offline: scikit-learn's bundled handwritten digits, trained in Keras and moved to PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alexgen.frameworks import import_source
from alexgen.render import environment, render_module
from alexgen.validate import graph_from_text

datasets = pytest.importorskip("sklearn.datasets")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.keras, pytest.mark.torch]

DIGITS_SPEC = """
alexgen: 1
name: digits_net
input_shape: [8, 8, 1]
layers:
  - {type: conv2d, name: conv1, filters: 16, kernel_size: 3, padding: same, activation: relu}
  - {type: batch_norm, name: bn1, momentum: 0.9}
  - {type: max_pool2d, name: pool1, pool_size: 2}
  - {type: conv2d, name: conv2, filters: 32, kernel_size: 3, padding: same, activation: relu}
  - {type: flatten, name: flatten}
  - {type: dense, name: fc, units: 64, activation: relu}
  - {type: dropout, name: drop, rate: 0.25}
  - {type: dense, name: predictions, units: 10, activation: softmax}
training:
  optimizer: {type: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
  batch_size: 64
  epochs: 5
"""


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 1,797 bundled 8x8 digits, scaled to [0, 1], channels-last; a fixed 80/20 split."""
    data = datasets.load_digits()
    images = (data.images / 16.0).astype("float32")[..., None]
    order = np.random.default_rng(0).permutation(len(images))
    cut = int(0.8 * len(images))
    train, test = order[:cut], order[cut:]
    return images[train], data.target[train], images[test], data.target[test]


def test_trained_in_keras_the_pytorch_model_gives_the_same_predictions(tmp_path: Path) -> None:
    graph = graph_from_text(DIGITS_SPEC, "digits_net.yaml")
    env = environment()
    keras_module = import_source("digits_keras", render_module(graph, "keras", env, "digits_net.yaml"))
    torch_module = import_source("digits_torch", render_module(graph, "pytorch", env, "digits_net.yaml"))
    x_train, y_train, x_test, y_test = digits()

    keras.utils.set_random_seed(0)
    model = keras_module.compile_model(keras_module.build_model())
    model.fit(x_train, y_train, batch_size=keras_module.BATCH_SIZE, epochs=keras_module.EPOCHS, verbose=0)
    keras_probabilities = np.asarray(model.predict(x_test, verbose=0))
    keras_accuracy = float((keras_probabilities.argmax(1) == y_test).mean())
    assert keras_accuracy > 0.9, keras_accuracy  # it learned: the weights moved below are meaningful

    keras_module.save_weights(model, str(tmp_path / "digits.safetensors"))
    net = torch_module.build_model()
    torch_module.load_weights(net, str(tmp_path / "digits.safetensors"))
    net.eval()
    with torch.no_grad():
        torch_probabilities = net(torch.from_numpy(x_test.transpose(0, 3, 1, 2).copy())).numpy()

    np.testing.assert_allclose(torch_probabilities, keras_probabilities, atol=1e-5)
    assert (torch_probabilities.argmax(1) == keras_probabilities.argmax(1)).all()
    with torch.no_grad():
        loss = torch_module.loss_fn(torch.from_numpy(torch_probabilities), torch.from_numpy(y_test))
    keras_loss = float(model.compute_loss(y=y_test, y_pred=keras_probabilities))
    assert float(loss) == pytest.approx(keras_loss, rel=1e-4)
