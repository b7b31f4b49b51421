"""Distributed training through the frameworks' own engines: torchrun + DDP, tf.distribute strategies.

PyTorch: `torchrun --nproc-per-node N -m alexgen train ...` sets RANK, WORLD_SIZE and LOCAL_RANK; each process
joins the group (gloo on CPU, nccl on GPU), takes its share of every epoch from `epoch_order(rank, world_size)`
and only rank 0 writes. Keras: `--strategy mirrored` (the local devices) or `multiworker` (hosts in TF_CONFIG).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from alexgen.runs.folder import RunError
from alexgen.train.settings import STRATEGIES


@dataclass(frozen=True)
class Ranks:
    """This process's place in a torchrun job (rank 0 of 1 outside torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def lead(self) -> bool:
        """Rank 0: the one that logs and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def torchrun_ranks() -> Ranks:
    """The ranks torchrun put in the environment (none: a single process)."""
    if "WORLD_SIZE" not in os.environ:
        return Ranks()
    environ = os.environ
    return Ranks(int(environ.get("RANK", "0")), int(environ["WORLD_SIZE"]), int(environ.get("LOCAL_RANK", "0")))


def tf_config_ranks() -> Ranks:
    """This worker's place in the TF_CONFIG cluster: the chief (or worker 0 when there is none) is rank 0."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", ""))
        cluster, task = config["cluster"], config["task"]
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        kind, index = str(task["type"]), int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RunError(f"TF_CONFIG is not a cluster description with a task ({exc}); see docs/training.md") from exc
    if kind not in ("chief", "worker") or index >= len(cluster.get(kind, [])):
        raise RunError(f"TF_CONFIG: task {kind} {index} is not in the cluster's chief or worker list")
    rank = index if kind == "chief" else len(chiefs) + index
    return Ranks(rank, len(chiefs) + len(workers), 0)


def job_ranks(strategy: str) -> Ranks:
    """This process's ranks: from torchrun's environment, or from TF_CONFIG under --strategy multiworker."""
    check_strategy(strategy)
    if strategy == "multiworker":
        return tf_config_ranks()
    return torchrun_ranks()


def per_rank_batch(batch_size: int, ranks: Ranks) -> int:
    """Each process's share of the global batch; RunError when it does not divide evenly."""
    if batch_size % ranks.world_size:
        raise RunError(
            f"--batch-size {batch_size} is the global batch: it must divide among {ranks.world_size} "
            f"processes; use a multiple of {ranks.world_size}"
        )
    return batch_size // ranks.world_size


def start_torch(ranks: Ranks) -> Any:
    """Join the process group (gloo on CPU, nccl with CUDA) and return the device this rank trains on."""
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    device = torch.device("cuda", ranks.local_rank) if cuda else torch.device("cpu")
    if ranks.distributed and not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo")
    return device


def stop_torch(ranks: Ranks) -> None:
    """Leave the process group."""
    import torch.distributed as dist

    if ranks.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def check_strategy(name: str) -> None:
    """RunError for a strategy that cannot start here (checked before the run folder is made)."""
    if name not in STRATEGIES:
        raise RunError(f"unknown --strategy {name}; use none, mirrored or multiworker")
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise RunError("--strategy multiworker needs TF_CONFIG describing the workers (see docs/training.md)")
        tf_config_ranks()


def keras_strategy(name: str) -> Any:
    """The tf.distribute strategy called `name` ('none': None)."""
    check_strategy(name)
    if name == "none":
        return None
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def keras_lead(strategy: Any) -> bool:
    """Whether this worker writes: always without a strategy or with mirrored; the chief (task 0) otherwise."""
    if strategy is None:
        return True
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return bool(resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0))
