"""Where the work runs: local processes (`jobs`), or a Dask cluster, through joblib.

The same code path serves both: joblib's Dask backend sends each task to the cluster.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import joblib

from maskfer.errors import check_name

CLUSTERS = ("none", "local")


@dataclass(frozen=True)
class ComputeConfig:
    """`jobs` local workers, or a Dask scheduler address, or `cluster="local"` to start a LocalCluster.

    `threads`: torch threads in each worker (CNN training); None shares this machine's cores
    among the local workers, since torch's default (every core in every worker) oversubscribes.
    """

    jobs: int = 1
    scheduler: str | None = None
    cluster: str = "none"
    threads: int | None = None

    def __post_init__(self):
        check_name("cluster", self.cluster, CLUSTERS)
        if self.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {self.jobs}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {self.threads}")

    @property
    def torch_threads(self) -> int:
        if self.threads:
            return self.threads
        return max(1, (os.cpu_count() or 1) // max(1, self.jobs))


THREADS_VARIABLE = "MASKFER_THREADS"
_chosen_threads: list[int] = []  # set by `use_runtime_threads` in a worker process


def use_runtime_threads(threads: int) -> None:
    """Fix this process's `runtime_threads()` (a worker of `predict --jobs` takes 1); runtimes made before keep theirs."""
    _chosen_threads[:] = [threads]


def runtime_threads() -> int:
    """Threads for each prediction runtime (LiteRT's face models, ONNX Runtime's classifiers), read at first use.

    What `use_runtime_threads` set; else `$MASKFER_THREADS` (a machine shared with other work may want 1);
    otherwise this process's cores, at most 4 (these models are small: a fifth thread gains nothing).
    """
    if _chosen_threads:
        return _chosen_threads[0]
    value = os.environ.get(THREADS_VARIABLE)
    if value is not None:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"${THREADS_VARIABLE} must be a whole number of at least 1, got {value!r}")
        return int(value)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores))


@contextmanager
def compute_backend(config: ComputeConfig = ComputeConfig()):
    """Yield the n_jobs to give joblib.Parallel inside this block."""
    if config.scheduler is None and config.cluster == "none":
        yield config.jobs
        return
    from dask.distributed import Client, LocalCluster

    if config.scheduler:
        client = Client(config.scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=max(1, config.jobs), threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        with joblib.parallel_config(backend="dask"):
            yield -1
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_ordered(function, items, config: ComputeConfig = ComputeConfig()):
    """`function(item)` for each item, in the items' order, as a generator.

    The items are consumed lazily (a few per worker ahead of the results), so a stream of a million
    paths is never a list. One worker runs here, in this process; more run in joblib's worker
    processes, or on a Dask cluster.
    """
    with compute_backend(config) as n_jobs:
        if n_jobs == 1:
            yield from map(function, items)
            return
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator", pre_dispatch="2*n_jobs", batch_size=1)
        yield from parallel(joblib.delayed(function)(item) for item in items)


def run_tasks(function, tasks: list[tuple], config: ComputeConfig = ComputeConfig(), on_result=None) -> list:
    """Run `function(*task)` for each task, calling `on_result(i, result)` as each one finishes."""
    if len(tasks) == 1 and config.scheduler is None and config.cluster == "none":
        config = ComputeConfig()  # one task: starting worker processes would only cost time
    results = []
    for i, result in enumerate(map_ordered(_star(function), tasks, config) if tasks else []):
        results.append(result)
        if on_result is not None:
            on_result(i, result)
    return results


class _star:
    """`function(*task)` as a picklable one-argument callable."""

    def __init__(self, function):
        self.function = function

    def __call__(self, task):
        return self.function(*task)
