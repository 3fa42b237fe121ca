"""What every `maskfer` command shares: the Typer app, the consoles, the one way bad input is reported,
and the options that several commands take.

Bad input never prints a traceback: it prints one line naming the file or option and the problem,
and exits with status 2 (`user_errors`).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from maskfer import __version__
from maskfer.errors import MaskferError, check_names

class ConventionalHelp:
    """Help in the usual convention: the usage line names arguments DATASET or PATH... (typer's own writes
    {DATASET}), and a flag shows no <bool>, since it takes no value."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = (param.metavar or param.name).upper() + ("..." if param.nargs != 1 else "")
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
            elif param.param_type_name == "argument":  # its help says what it is; no <list[Path]> beside it
                param.display_type_rich = lambda ctx: None
        return params


class MaskferCommand(ConventionalHelp, TyperCommand):
    pass


class MaskferGroup(ConventionalHelp, TyperGroup):
    def collect_usage_pieces(self, ctx) -> list[str]:
        return TyperGroup.collect_usage_pieces(self, ctx)  # "COMMAND [ARGS]..." as click writes it


HELP = {"help_option_names": ["-h", "--help"]}  # -h too, as most tools take it

app = typer.Typer(help="Facial expression recognition on masked faces, evaluated honestly.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False, cls=MaskferGroup, context_settings=HELP)


data_app = typer.Typer(help="Read datasets: layouts, counts, skipped files, balanced samples.", no_args_is_help=True,
                       cls=MaskferGroup, context_settings=HELP)


app.add_typer(data_app, name="data")


console = Console(soft_wrap=True)


errors = Console(stderr=True, soft_wrap=True)


def print_version(value: bool) -> None:
    if value:
        console.print(f"maskfer {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=print_version, is_eager=True,
                                      help="Print maskfer's version and stop.")):
    """Facial expression recognition on masked faces, evaluated honestly."""


DATA_HINT = ("maskfer needs a labelled face-expression dataset: KDEF (kdef.se), TCEP, CK+ or FER2013 in its public "
             "layout, or any folder with one sub-folder per expression")


@contextmanager
def user_errors():
    """Turn maskfer's input errors into one line on stderr and exit status 2."""
    try:
        yield
    except (MaskferError, ValueError) as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def compute_config(jobs: int, scheduler: Optional[str], cluster: str, threads: Optional[int] = None):
    from maskfer.core.parallel import ComputeConfig

    return ComputeConfig(jobs=jobs, scheduler=scheduler, cluster=cluster, threads=threads)


def cache_for(cache_dir: Optional[Path], no_cache: bool):
    from maskfer.core.cache import Cache

    return Cache(cache_dir, enabled=not no_cache)


def parse_params(params: list[str]) -> dict:
    parsed = {}
    for item in params:
        if "=" not in item:
            raise MaskferError(f"--param {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        try:
            parsed[name] = json.loads(value)
        except json.JSONDecodeError:
            parsed[name] = value
    return parsed


def dataset_features(path, layout, subject_regex, pixels, cache, display, compute=None, sample=None, replace=False, seed=0):
    """Read a dataset (a balanced `sample` of it if asked) and its features, showing progress on `display`."""
    from maskfer.core.parallel import ComputeConfig
    from maskfer.data import balanced_sample, read_dataset
    from maskfer.features.pixels import table_features

    table = read_dataset(path, layout, subject_regex).table
    if sample:
        if "split" in table and (table["split"] == "train").any():
            table = table[table["split"] == "train"]  # FER2013: its test splits stay unseen, as the study's sample did
        table = balanced_sample(table, sample, seed=seed, replace=replace)
    progress, advancer = display
    task = progress.add_task("features", total=len(table))
    return table_features(table, pixels, cache, advancer(task, "images"), compute or ComputeConfig())


JOBS = typer.Option(os.cpu_count() or 1, "--jobs", "-j", help="Parallel local workers (default: one per core).", show_default="cores")


SCHEDULER = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:port) to run on.")


THREADS = typer.Option(None, "--threads", help="CNNs: torch threads per worker (default: the cores shared among --jobs).", show_default="cores / jobs")


CLUSTER = typer.Option("none", "--cluster", help="'none' (joblib on this machine) or 'local' (a Dask LocalCluster with --jobs workers).")


CACHE_DIR = typer.Option(None, "--cache-dir", help="Cache folder (default $MASKFER_CACHE_DIR or ~/.cache/maskfer).")


NO_CACHE = typer.Option(False, "--no-cache", help="Compute everything afresh and store nothing.")


LAYOUT = typer.Option("auto", "--layout", help="Dataset layout: auto (detect it), kdef, tcep, ckplus, fer2013, fer2013_csv, rafdb, affectnet or class_folders.")


DATASET = typer.Argument(..., help="Dataset folder or fer2013.csv.", metavar="DATASET", show_default=False)


SEED = typer.Option(0, "--seed", help="Random seed (folds, samples, masks).")


FOLDS = typer.Option(5, "--folds", help="Cross-validation folds.")


SIZE = typer.Option(64, "--size", help="Side of the square image features, in pixels (the study's 64).")


COLOR = typer.Option("rgb", "--color", help="Colour of the features: rgb (the study's) or gray.")


PROTOCOL = typer.Option("auto", "--protocol", "-p",
                        help="random, subject, source, mask_type or mask_renderer (see the README's protocols); "
                             "auto: subject where every image names its person, else source.")


def resolve_protocol(protocol: str, features) -> str:
    """`auto` made concrete for this data, saying so when it is not the default `subject`."""
    from maskfer.evaluation.protocols import PROTOCOLS, default_protocol

    if protocol != "auto":
        return check_names(protocol, PROTOCOLS, "protocol")[0]
    chosen = default_protocol(features.table)
    if chosen != "subject":
        errors.print(f"note: these images do not all name their person, so the protocol is {chosen} "
                     "(every version of one photo on one side); --protocol chooses another", highlight=False)
    return chosen


SUBJECT_REGEX = typer.Option(None, "--subject-regex", help="Regular expression whose first group is the subject id.")


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
