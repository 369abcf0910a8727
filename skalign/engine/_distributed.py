"""Data-parallel training under ``torchrun``.

``torchrun`` (or any launcher that sets the same environment variables)
starts one process per device and sets ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. The trainer reads them,
joins the process group (gloo on the CPU, NCCL on CUDA) and wraps the model
in ``DistributedDataParallel``: each rank trains on its own videos and the
gradients are averaged across ranks at every step.
"""

from __future__ import annotations

import atexit
import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistributedEnv", "detect_distributed", "init_distributed"]


@dataclass(frozen=True)
class DistributedEnv:
    """Where this process stands in a data-parallel run.

    Attributes
    ----------
    rank : int
        Global rank of this process.
    world_size : int
        Number of processes.
    local_rank : int
        Rank on this machine (picks the CUDA device).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={value!r} is not an integer.") from exc


def detect_distributed(env: Mapping[str, str] | None = None) -> DistributedEnv:
    """Read the launcher's environment variables.

    Parameters
    ----------
    env : mapping, optional
        The environment; ``os.environ`` by default.

    Returns
    -------
    env : DistributedEnv
        ``world_size == 1`` when no launcher set ``WORLD_SIZE``.

    Examples
    --------
    >>> from skalign.engine import detect_distributed
    >>> detect_distributed({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    DistributedEnv(rank=1, world_size=2, local_rank=1)
    >>> detect_distributed({}).is_distributed
    False
    """
    env = os.environ if env is None else env
    world_size = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0)
    local_rank = _env_int(env, "LOCAL_RANK", rank)
    if world_size < 1:
        raise ValueError(f"WORLD_SIZE must be at least 1, got {world_size}.")
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} must lie in [0, WORLD_SIZE={world_size}).")
    return DistributedEnv(rank=rank, world_size=world_size, local_rank=local_rank)


def init_distributed(device: torch.device) -> DistributedEnv:
    """Join (or reuse) the default process group; a no-op for one process.

    Parameters
    ----------
    device : torch.device
        The training device: NCCL is used for CUDA, gloo otherwise.

    Returns
    -------
    env : DistributedEnv
        The rank and world size of the process group in use.
    """
    if dist.is_available() and dist.is_initialized():
        world = dist.get_world_size()
        rank = dist.get_rank()
        return DistributedEnv(rank=rank, world_size=world,
                              local_rank=_env_int(os.environ, "LOCAL_RANK", rank))
    env = detect_distributed()
    if not env.is_distributed:
        return env
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed.")
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise ValueError(
                f"WORLD_SIZE={env.world_size} is set but {name} is not; launch with torchrun "
                "or set MASTER_ADDR and MASTER_PORT."
            )
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs = {}
    if device.type == "cuda" and "device_id" in inspect.signature(dist.init_process_group).parameters:
        kwargs["device_id"] = device
    dist.init_process_group(backend=backend, init_method="env://",
                            rank=env.rank, world_size=env.world_size, **kwargs)
    # The group stays up for later fits in this process; it is taken down,
    # all ranks together, before the interpreter exits: a gloo group left to
    # the interpreter's final teardown can abort the process ("terminate
    # called without an active exception").
    atexit.register(_destroy_at_exit)
    return env


def _destroy_at_exit() -> None:
    """Wait for every rank, then destroy the default process group, if it is
    still up (at exit). Without the barrier, a rank that tears its gloo
    connections down while a peer still uses them can abort that peer."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        dist.barrier()
    except RuntimeError:
        pass  # a peer is gone already: nothing left to wait for
    dist.destroy_process_group()


def broadcast_int(value: int, device: torch.device) -> int:
    """Rank 0's ``value`` on every rank (identity without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return int(t.item())


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean of ``t`` over the ranks (identity without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t / dist.get_world_size()
