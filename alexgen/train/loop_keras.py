"""The Keras training loop around the generated module: build_model, compile_model, make_callbacks, save_weights,
driven by one `model.fit` over every remaining epoch (so the spec's callbacks keep their state), optionally under a
tf.distribute strategy."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from alexgen import weights as w
from alexgen.data import DataError, transforms, unwrap_data_error
from alexgen.data.tf_adapter import TfPipeline
from alexgen.frameworks import generated_module
from alexgen.runs import EpochProgress
from alexgen.train.common import (
    CHECKPOINT_DIR,
    KERAS_OPTIMIZER,
    NEUTRAL_BEST,
    NEUTRAL_FINAL,
    Outcome,
    Plan,
    Recorder,
    images_of_test_split,
    read_state,
    score_test,
    seed_everything,
)
from alexgen.train.distributed import keras_lead, keras_strategy
from alexgen.train.keras_multiworker import prepare_multiworker

LOGGED = ("loss", "accuracy", "top5_accuracy")
CALLBACK_STATE = ("wait", "best", "cooldown_counter")  # ReduceLROnPlateau's memory between epochs


@contextlib.contextmanager
def floatx(dtype: str) -> Iterator[None]:
    """Keras's float type and dtype policy set to `dtype` for the duration (the policy is cached separately)."""
    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)
        keras.config.set_dtype_policy(policy)


class EpochRecorder(keras.callbacks.Callback):  # type: ignore[misc]
    """Runs last each epoch: restores resumed callback state, records the epoch, checkpoints (lead only)."""

    def __init__(self, trainer: KerasTrainer) -> None:
        super().__init__()
        self.trainer, self.began, self.lr = trainer, 0.0, 0.0
        self.bar: EpochProgress | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.trainer.restore_callbacks()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.began, self.lr = time.perf_counter(), self.trainer.learning_rate()
        self.bar = self.trainer.recorder.progress(epoch + 1, self.trainer.steps).__enter__()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None and self.bar.enabled:
            self.bar.advance(1, loss=float((logs or {}).get("loss", 0.0)))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        logs = logs or {}
        record: dict[str, Any] = {"epoch": epoch + 1}
        record.update({key: float(logs[key]) for key in LOGGED if key in logs})
        record.update({f"val_{key}": float(logs[f"val_{key}"]) for key in LOGGED if f"val_{key}" in logs})
        record.update(lr=self.lr, seconds=round(time.perf_counter() - self.began, 3))
        self.trainer.epoch_done(record)


class KerasTrainer:
    """One run of the generated Keras module: model, compiled optimizer and callbacks, tf.data, checkpoints."""

    def __init__(self, plan: Plan) -> None:
        self.plan, self.settings = plan, plan.settings
        seed_everything(self.settings.seed)
        keras.utils.set_random_seed(self.settings.seed)
        self.strategy = keras_strategy(self.settings.strategy)
        self.recorder = Recorder(plan, lead=keras_lead(self.strategy))
        self.module: ModuleType = generated_module(plan.graph, plan.spec_path, "keras")
        self.steps = math.ceil(len(plan.data.train) / self.settings.batch_size)
        self.callback_state: list[dict[str, Any]] = []
        with floatx(plan.dtype), self.scope():
            self.model = self.build()
        if self.settings.strategy == "multiworker":  # Keras 3's fit needs two fixes under this strategy
            classes = None if self.settings.sparse_labels else plan.num_classes
            with floatx(plan.dtype):
                prepare_multiworker(self.model, self.strategy, plan.data.input_shape, plan.dtype, classes)

    def scope(self) -> Any:
        """The strategy's scope (a no-op without one)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def build(self) -> Any:
        """The generated model, compiled as generated, from the plan's initial weights or the checkpoint."""
        plan = self.plan
        model = self.module.build_model()
        if plan.initial_weights is not None:
            tensors = w.read_neutral(plan.initial_weights, plan.graph, w.neutral_shapes(plan.graph))
            w.neutral_to_keras(plan.graph, model, tensors)
        if not plan.dropout:
            for layer in model.layers:
                if isinstance(layer, keras.layers.Dropout):
                    layer.rate = 0.0
        self.module.compile_model(model)
        if plan.dtype == "float64" and self.settings.top5:  # TopKCategoricalAccuracy refuses float64 predictions
            kept = ["accuracy"] if "accuracy" in self.settings.metrics else []
            model.compile(optimizer=model.optimizer, loss=model.loss, metrics=kept)
        self.callbacks: list[Any] = self.module.make_callbacks()
        if plan.start_epoch:
            self.restore(model)
        return model

    # --- weights and checkpoints ------------------------------------------------------------------------------

    def learning_rate(self) -> float:
        """The optimizer's current learning rate."""
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def save_weights(self, which: str) -> None:
        """final/best: the neutral file (through the generated save_weights) and model.save_weights."""
        assert self.plan.run is not None
        name = NEUTRAL_FINAL if which == "final" else NEUTRAL_BEST
        temporary = self.plan.run.path / f".{name}.tmp"
        self.module.save_weights(self.model, str(temporary))
        os.replace(temporary, self.plan.run.path / name)
        self.save_native(self.plan.native(which))

    def save_native(self, path: Path) -> None:
        """model.save_weights through a temporary file (whose name still ends in .weights.h5)."""
        temporary = path.with_name(f".tmp-{path.name}")
        self.model.save_weights(str(temporary))
        os.replace(temporary, path)

    def checkpoint(self, epoch: int) -> None:
        """checkpoint/: the weights, the optimizer's variables, the callbacks' state and the epochs done."""
        assert self.plan.run is not None
        folder = self.plan.run.path / CHECKPOINT_DIR
        folder.mkdir(exist_ok=True)
        self.save_native(self.plan.native("last"))
        variables = {f"v{i}": np.asarray(v) for i, v in enumerate(self.model.optimizer.variables)}
        temporary = folder / f".tmp-{KERAS_OPTIMIZER}"
        with temporary.open("wb") as handle:
            np.savez(handle, **variables)  # type: ignore[arg-type]
        os.replace(temporary, folder / KERAS_OPTIMIZER)
        callbacks = [{key: float(getattr(c, key)) for key in CALLBACK_STATE if hasattr(c, key)} for c in self.callbacks]
        self.recorder.write_state(epoch, {"learning_rate": self.learning_rate(), "callbacks": callbacks})

    def restore(self, model: Any) -> None:
        """Continue from the last checkpoint: weights, optimizer variables, learning rate, callbacks, best."""
        assert self.plan.run is not None
        state = read_state(self.plan.run.path)
        optimizer = model.optimizer
        optimizer.build(model.trainable_variables)  # built first, so that load_weights finds its variables
        model.load_weights(str(self.plan.native("last")))
        with np.load(self.plan.run.path / CHECKPOINT_DIR / KERAS_OPTIMIZER) as saved:
            values = [saved[f"v{i}"] for i in range(len(saved.files))]
        for variable, value in zip(optimizer.variables, values, strict=True):
            variable.assign(value)
        optimizer.learning_rate = state["learning_rate"]
        self.callback_state = state.get("callbacks", [])
        self.recorder.best = state.get("best")

    def restore_callbacks(self) -> None:
        """Put back the schedule callbacks' memory (fit's on_train_begin has just reset it)."""
        for callback, saved in zip(self.callbacks, self.callback_state, strict=False):
            for key, value in saved.items():
                setattr(callback, key, value)

    # --- the loop ---------------------------------------------------------------------------------------------

    def pipelines(self) -> tuple[TfPipeline, TfPipeline]:
        """Training (shuffled per epoch, as the PyTorch loader) and validation pipelines."""
        data, settings = self.plan.data, self.settings
        training = self.plan.graph.spec.training
        train_transform, eval_transform = transforms(
            data.input_shape, training.augmentation if training else None, data.train, settings.seed
        )
        batch, seed = settings.batch_size, settings.seed
        return (
            TfPipeline(data.train, train_transform, batch_size=batch, shuffle=True, seed=seed),
            TfPipeline(data.val, eval_transform, batch_size=batch, shuffle=False, seed=seed),
        )

    def labelled(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """Labels as the loss takes them: indices, or one-hot rows for categorical cross-entropy."""
        if self.settings.sparse_labels:
            return dataset
        classes = self.plan.num_classes
        return dataset.map(lambda x, y: (x, tf.one_hot(y, classes)), num_parallel_calls=tf.data.AUTOTUNE)

    def epoch_done(self, record: dict[str, Any]) -> None:
        """Record an epoch; the lead writes the best weights and the checkpoint."""
        best = self.recorder.improved(record)
        self.recorder.epoch_end(record)
        if self.plan.run is not None and self.recorder.lead:
            if best:
                self.save_weights("best")
            self.checkpoint(int(record["epoch"]))

    def fit(self) -> Outcome:
        """Train the remaining epochs in one model.fit; test at the end."""
        plan, settings = self.plan, self.settings
        train, val = self.pipelines()
        with floatx(plan.dtype):
            if plan.start_epoch < settings.epochs:
                epochs = [self.labelled(train.epoch(e)) for e in range(plan.start_epoch, settings.epochs)]
                dataset = epochs[0]
                for more in epochs[1:]:
                    dataset = dataset.concatenate(more)
                self.model.fit(
                    dataset,
                    epochs=settings.epochs,
                    initial_epoch=plan.start_epoch,
                    steps_per_epoch=self.steps,
                    validation_data=self.labelled(val.epoch(0)),
                    callbacks=[*self.callbacks, EpochRecorder(self)],
                    shuffle=False,
                    verbose=0,
                )
            outcome = Outcome(self.recorder.history, {}, w.keras_to_neutral(plan.graph, self.model))
            if self.recorder.lead or self.strategy is not None:  # every worker takes part in predict's collectives
                images = images_of_test_split(plan)
                probabilities = self.model.predict(images, batch_size=settings.batch_size, verbose=0)
                outcome.test = score_test(np.asarray(probabilities), plan.data.test.labels, settings.top5)
            if self.recorder.lead and plan.run is not None:
                self.save_weights("final")
        return outcome


def train(plan: Plan) -> Outcome:
    """Run the plan with the generated Keras module; an image that fails to decode mid-epoch is a DataError."""
    try:
        return KerasTrainer(plan).fit()
    except tf.errors.OpError as exc:  # tf.data passes the loader's DataError on as text inside an op error
        message = unwrap_data_error(exc.message)
        if message is None:
            raise
        raise DataError(message) from None
