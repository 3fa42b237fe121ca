"""What each recipe's classifier graph costs at prediction, before any of it is trained.

    python bench/classifier_cost.py
    python bench/classifier_cost.py v2=OLD.onnx "v3 int8=NEW.onnx"   # trained files instead, side by side

The graph `train-default` exports for a recipe (MobileNetV2 at the recipe's crop size; with
`flip_test`, a second pass on the mirrored face, averaged) is built with random weights and timed
in ONNX Runtime with maskfer's session settings, on one face and on five, in float and as
`maskfer quantize-model` writes it (int8; calibrated here on random crops, which changes its
readings but not its cost). The weights do not change the cost, so this says what shipping a recipe
would do to `predict` while its long run is still training. Prints the median of 200 runs each, the
float and int8 graphs taking turns.

A trained graph can cost more than its random-weight twin: weights below float32's normal range
(subnormal) are many times slower to compute on, and a long run leaves many (v3's export held over
100,000 before `export_onnx` zeroed them). Given trained files, it times those instead, all taking
turns on the same faces per crop size.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def session(size: int, flip: bool, threads: int, int8: bool):
    import onnxruntime
    import torch

    from maskfer.models.backbones import create_backbone
    from maskfer.prediction.model import SESSION_CONFIG
    from maskfer.training.quantize import quantize_model

    net = create_backbone("mobilenet_v2", 7, "none").eval()

    class Deployed(torch.nn.Module):  # the shape of `maskfer.training.recipe.export_onnx`'s graph
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            x = x.permute(0, 3, 1, 2)
            logits = self.net(x)
            if flip:
                logits = (logits + self.net(x.flip(3))) / 2
            return logits.softmax(1)

    buffer = io.BytesIO()
    torch.onnx.export(Deployed(), torch.zeros(1, size, size, 3), buffer, dynamo=False, opset_version=17, input_names=["faces"],
                      output_names=["probabilities"], dynamic_axes={"faces": {0: "n"}, "probabilities": {0: "n"}})
    graph = buffer.getvalue()
    if int8:
        with tempfile.TemporaryDirectory() as work:
            (Path(work) / "float.onnx").write_bytes(graph)
            crops = np.random.default_rng(0).integers(0, 256, (64, size, size, 3), dtype=np.uint8)
            graph = quantize_model(Path(work) / "float.onnx", Path(work) / "int8.onnx", crops).read_bytes()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    for key, value in SESSION_CONFIG.items():
        options.add_session_config_entry(key, value)
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def median_ms(runs: list, faces: np.ndarray, repeat: int = 200) -> list[float]:
    """Each session's median time on `faces`, the sessions taking turns (so a change in the machine's speed hits all)."""
    times = [[] for _ in runs]
    for i in range(20 + repeat):
        for run, kept in zip(runs, times):
            start = time.perf_counter()
            run(None, {"faces": faces})
            if i >= 20:
                kept.append(time.perf_counter() - start)
    return [1000 * statistics.median(t) for t in times]


def trained_files(files: dict[str, str]) -> None:
    """Each trained file's median ms on one face and on five (maskfer's session settings), all taking turns."""
    from maskfer.prediction.model import onnx_session

    sessions = {name: onnx_session(Path(file)) for name, file in files.items()}
    sizes = {name: s.get_inputs()[0].shape[1] for name, s in sessions.items()}
    print("| model | crop | one face ms | five faces ms |\n|---|---|---|---|")
    figures = {name: [] for name in files}
    for n in (1, 5):
        for size in sorted(set(sizes.values())):
            names = [name for name in files if sizes[name] == size]
            faces = np.random.default_rng(0).random((n, size, size, 3), dtype=np.float32)
            for name, ms in zip(names, median_ms([sessions[name].run for name in names], faces)):
                figures[name].append(ms)
    for name, (one, five) in figures.items():
        print(f"| {name} | {sizes[name]} | {one:.2f} | {five:.2f} |")


def main():
    import argparse

    from validation_check import named_model  # the same NAME=FILE.onnx arguments

    from maskfer.core.parallel import runtime_threads
    from maskfer.errors import MaskferError
    from maskfer.training.recipe import RECIPES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=named_model, help="NAME=FILE.onnx: trained files to time instead")
    args = parser.parse_args()
    threads = runtime_threads()
    print(f"ONNX Runtime on {threads} threads (maskfer's default here); median ms of 200 runs\n")
    if args.models:
        try:
            return trained_files(dict(args.models))
        except MaskferError as exc:
            raise SystemExit(str(exc)) from None
    print("| recipe | crop | mirror averaged | one face ms, float | one face ms, int8 | five faces ms, float | five faces ms, int8 |")
    print("|---|---|---|---|---|---|---|")
    for name, recipe in RECIPES.items():
        variants = [(recipe.size, recipe.flip_test)] + ([(recipe.size, False)] if recipe.flip_test else [])
        for size, flip in variants:
            runs = [session(size, flip, threads, int8).run for int8 in (False, True)]
            rng = np.random.default_rng(0)
            one, five = (rng.random((n, size, size, 3), dtype=np.float32) for n in (1, 5))
            label = name if flip == recipe.flip_test else f"{name} without the mirror"
            cells = " | ".join(f"{ms:.2f}" for faces in (one, five) for ms in median_ms(runs, faces))
            print(f"| {label} | {size} | {'yes' if flip else 'no'} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
