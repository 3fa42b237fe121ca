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
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")

    @property
    def torch_threads(self) -> int:
        if self.threads:
            return self.threads
        return max(1, (os.cpu_count() or 1) // max(1, self.jobs))


THREADS_VARIABLE = "MASKFER_THREADS"


def runtime_threads() -> int:
    """Threads for each prediction runtime (LiteRT's face models, ONNX Runtime's classifiers), read at first use.

    `$MASKFER_THREADS` if set (worker processes set 1, and a machine shared with other work may want 1);
    otherwise this process's cores, at most 4 (these models are small: a fifth thread gains nothing).
    """
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


def run_tasks(function, tasks: list[tuple], config: ComputeConfig = ComputeConfig(), on_result=None) -> list:
    """Run `function(*task)` for each task, calling `on_result(i, result)` as each one finishes."""
    results = [None] * len(tasks)
    if not tasks:
        return results
    if len(tasks) == 1 and config.scheduler is None and config.cluster == "none":
        config = ComputeConfig()  # one task: starting worker processes would only cost time
    with compute_backend(config) as n_jobs:
        if n_jobs == 1:
            stream = (function(*task) for task in tasks)
        else:
            stream = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(joblib.delayed(function)(*t) for t in tasks)
        for i, result in enumerate(stream):
            results[i] = result
            if on_result is not None:
                on_result(i, result)
    return results
