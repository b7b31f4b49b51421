"""The PyTorch training loop around the generated module: build_model, make_optimizer, make_scheduler, loss_fn,
regularization_loss, predict_proba, save_weights. Runs alone or under torchrun (DDP, rank 0 writes)."""

from __future__ import annotations

import hashlib
import os
import time
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from alexgen import weights as w
from alexgen.data import DataError, transforms, unwrap_data_error
from alexgen.data.torch_adapter import set_epoch, torch_loader
from alexgen.frameworks import generated_module
from alexgen.train import common
from alexgen.train.distributed import Ranks, per_rank_batch, start_torch, stop_torch, torchrun_ranks

Loader = DataLoader[Any]


def save_atomic(value: Any, path: Path) -> None:
    """torch.save through a temporary file."""
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(value, temporary)
    os.replace(temporary, path)


class TorchTrainer:
    """One run of the generated PyTorch module: model, optimizer, schedule, loaders, checkpoints."""

    def __init__(self, plan: common.Plan, ranks: Ranks | None = None) -> None:
        self.plan, self.settings = plan, plan.settings
        self.ranks = ranks or torchrun_ranks()
        self.device = start_torch(self.ranks)
        self.dtype = getattr(torch, plan.dtype)
        common.seed_everything(self.settings.seed)
        torch.manual_seed(self.settings.seed)
        self.module: ModuleType = generated_module(plan.graph, plan.spec_path, "pytorch")
        self.model: nn.Module = self.module.build_model().to(device=self.device, dtype=self.dtype)
        self.prefixes = w.torch_prefixes(self.model)
        if plan.initial_weights is not None:
            self.load_neutral(plan.initial_weights)
        if not plan.dropout:
            for layer in self.model.modules():
                if isinstance(layer, nn.Dropout):
                    layer.p = 0.0
        self.optimizer = self.module.make_optimizer(self.model)
        self.scheduler = self.module.make_scheduler(self.optimizer)
        self.recorder = common.Recorder(plan, lead=self.ranks.lead)
        torch.manual_seed(self.settings.seed + self.ranks.rank)  # each rank its own dropout masks
        if plan.start_epoch:
            self.restore()
        self.net: nn.Module = self.model
        if self.ranks.distributed:
            ids = [self.device.index] if str(self.device).startswith("cuda") else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    # --- weights and checkpoints ------------------------------------------------------------------------------

    def load_neutral(self, path: Path) -> None:
        """Start from a neutral weights file (either framework's)."""
        tensors = w.read_neutral(path, self.plan.graph, w.neutral_shapes(self.plan.graph))
        w.load_torch_state(self.model, w.neutral_to_torch_state(self.plan.graph, tensors, self.prefixes))
        self.model.to(device=self.device, dtype=self.dtype)

    def neutral(self) -> dict[str, np.ndarray]:
        """The current weights, neutral layout."""
        return w.torch_state_to_neutral(self.plan.graph, self.model.state_dict(), self.prefixes)

    def save_weights(self, which: str) -> None:
        """final/best: the neutral file (through the generated save_weights) and the state_dict."""
        assert self.plan.run is not None
        name = common.NEUTRAL_FINAL if which == "final" else common.NEUTRAL_BEST
        temporary = self.plan.run.path / f".{name}.tmp"
        self.module.save_weights(self.model, str(temporary))
        os.replace(temporary, self.plan.run.path / name)
        save_atomic(self.model.state_dict(), self.plan.native(which))

    def checkpoint(self, epoch: int) -> None:
        """checkpoint/last.pt (model, optimizer, schedule, RNG) and state.json after `epoch` epochs."""
        assert self.plan.run is not None
        (self.plan.run.path / common.CHECKPOINT_DIR).mkdir(exist_ok=True)
        save_atomic(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
            },
            self.plan.native("last"),
        )
        self.recorder.write_state(epoch, {})

    def restore(self) -> None:
        """Continue from the run folder's last checkpoint: weights, optimizer, schedule, RNG, best so far."""
        assert self.plan.run is not None
        state = common.read_state(self.plan.run.path)
        saved = torch.load(self.plan.native("last"), map_location=self.device, weights_only=True)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scheduler is not None and saved["scheduler"] is not None:
            self.scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"].cpu())
        self.recorder.best = state.get("best")

    # --- the loop ---------------------------------------------------------------------------------------------

    def loaders(self) -> tuple[Loader, Loader]:
        """Training (shuffled per epoch) and validation loaders, this rank's share of each."""
        settings, data = self.settings, self.plan.data
        train_transform, eval_transform = transforms(data.input_shape, self.augmentation(), data.train, settings.seed)
        batch = per_rank_batch(settings.batch_size, self.ranks)
        load = partial(torch_loader, batch_size=batch, seed=settings.seed, rank=self.ranks.rank,
                       world_size=self.ranks.world_size, workers=settings.workers)
        train = load(data.train, train_transform, shuffle=True)
        val = load(data.val, eval_transform, shuffle=False)
        return train, val

    def augmentation(self) -> Any:
        """The spec's augmentation (None without one)."""
        training = self.plan.graph.spec.training
        return training.augmentation if training else None

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels as the loss takes them: class indices, or one-hot rows for categorical cross-entropy."""
        if self.settings.sparse_labels:
            return labels
        return nn.functional.one_hot(labels, self.plan.num_classes).to(self.dtype)

    def step_metrics(self, outputs: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """[loss x n, correct, top-5 correct, n] of one batch (summed over batches, then over ranks)."""
        n = labels.shape[0]
        correct = (outputs.argmax(1) == labels).sum()
        top5 = torch.zeros((), device=outputs.device)
        if self.settings.top5:
            k = min(5, outputs.shape[1])
            top5 = (outputs.topk(k, 1).indices == labels[:, None]).any(1).sum()
        return torch.stack(
            [
                loss.detach().double() * n,
                correct.double(),
                top5.double(),
                torch.tensor(float(n), dtype=torch.float64, device=outputs.device),
            ]
        )

    def summarize(self, sums: torch.Tensor, prefix: str) -> dict[str, float]:
        """Mean loss and accuracies from summed batch metrics (all ranks' when distributed)."""
        if self.ranks.distributed:
            dist.all_reduce(sums)
        loss, correct, top5, n = (float(v) for v in sums.cpu())
        record = {f"{prefix}loss": loss / n}
        if "accuracy" in self.settings.metrics:
            record[f"{prefix}accuracy"] = correct / n
        if self.settings.top5:
            record[f"{prefix}top5_accuracy"] = top5 / n
        return record

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The generated loss plus the generated regularization (what Keras adds to its loss)."""
        loss: torch.Tensor = self.module.loss_fn(outputs, self.targets(labels))
        penalty: torch.Tensor = self.module.regularization_loss(self.model)
        return loss + penalty

    def train_epoch(self, loader: Loader, epoch: int) -> dict[str, float]:
        """One pass over this rank's share of the training data."""
        self.net.train()
        set_epoch(loader, epoch)
        sums = torch.zeros(4, dtype=torch.float64, device=self.device)
        with self.recorder.progress(epoch + 1, len(loader)) as bar:
            for images, labels in loader:
                images = images.to(self.device, self.dtype, non_blocking=True)
                labels = labels.to(self.device, non_blocking=True)
                self.optimizer.zero_grad(set_to_none=True)
                outputs = self.net(images)
                loss = self.loss(outputs, labels)
                loss.backward()  # type: ignore[no-untyped-call]
                self.optimizer.step()
                sums += self.step_metrics(outputs.detach(), labels, loss)
                if bar.enabled:
                    bar.advance(1, loss=float(sums[0] / sums[3]))
        return self.summarize(sums, "")

    @torch.no_grad()
    def evaluate(self, loader: Loader) -> dict[str, float]:
        """Validation loss (regularization included, as Keras reports it) and accuracies, eval mode."""
        self.net.eval()
        sums = torch.zeros(4, dtype=torch.float64, device=self.device)
        for images, labels in loader:
            images, labels = images.to(self.device, self.dtype), labels.to(self.device)
            outputs = self.net(images)
            sums += self.step_metrics(outputs, labels, self.loss(outputs, labels))
        return self.summarize(sums, "val_")

    def schedule(self, record: dict[str, float]) -> None:
        """Step the generated schedule after an epoch (ReduceLROnPlateau with the value it monitors)."""
        if self.scheduler is None:
            return
        monitor = self.settings.schedule_monitor
        if monitor is None:
            self.scheduler.step()
        else:
            self.scheduler.step(record[monitor])

    @torch.no_grad()
    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities for channels-last float images, in batches, eval mode."""
        self.model.eval()
        outputs = []
        for start in range(0, len(images), self.settings.batch_size):
            chunk = np.ascontiguousarray(images[start : start + self.settings.batch_size].transpose(0, 3, 1, 2))
            x = torch.from_numpy(chunk).to(self.device, self.dtype)
            outputs.append(self.module.predict_proba(self.model(x)).cpu().numpy())
        return np.concatenate(outputs) if outputs else np.zeros((0, self.plan.num_classes))

    def fit(self) -> common.Outcome:
        """Train from start_epoch to the settings' epochs; checkpoint and record each epoch; test at the end."""
        train, val = self.loaders()
        run, lead = self.plan.run, self.ranks.lead
        for epoch in range(self.plan.start_epoch, self.settings.epochs):
            began = time.perf_counter()
            lr = float(self.optimizer.param_groups[0]["lr"])
            record: dict[str, Any] = {"epoch": epoch + 1, **self.train_epoch(train, epoch), **self.evaluate(val)}
            record.update(lr=lr, seconds=round(time.perf_counter() - began, 3))
            self.schedule(record)
            best = self.recorder.improved(record)
            self.recorder.epoch_end(record)
            if run is not None and lead:
                if best:
                    self.save_weights("best")
                self.checkpoint(epoch + 1)
            if self.ranks.distributed:
                dist.barrier()
        outcome = common.Outcome(self.recorder.history, {}, self.neutral())
        if self.ranks.distributed:
            outcome.extra["rank_weights_sha256"] = self.gather_digests()
        if lead:
            outcome.test = common.score_test(
                self.predict(common.images_of_test_split(self.plan)), self.plan.data.test.labels, self.settings.top5
            )
            if run is not None:
                self.save_weights("final")
        stop_torch(self.ranks)
        return outcome

    def gather_digests(self) -> list[str]:
        """SHA-256 of every rank's weights: DDP averaged the gradients when they are all the same."""
        digest = hashlib.sha256()
        for key, value in sorted(self.model.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().numpy().tobytes())
        found: list[Any] = [None] * self.ranks.world_size
        dist.all_gather_object(found, digest.hexdigest())
        return [str(d) for d in found]


def train(plan: common.Plan) -> common.Outcome:
    """Run the plan with the generated PyTorch module; a DataError from a loader worker keeps only its message."""
    try:
        return TorchTrainer(plan).fit()
    except DataError as exc:  # a DataLoader worker re-raises it with the worker's traceback in the message
        raise DataError(unwrap_data_error(str(exc)) or str(exc)) from None
