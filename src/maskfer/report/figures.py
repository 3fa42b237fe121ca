"""The report's plots, drawn with matplotlib's object API (no pyplot state, no backend switching)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from maskfer.labels import EMOTIONS

PROTOCOL_COLORS = {"random": "#d62728", "subject": "#1f77b4", "source": "#2ca02c"}


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def accuracy_bars(rows: list[dict], protocols: list[str]) -> Figure:
    """Validation accuracy per model, one bar per protocol, with the fold standard deviation."""
    models = list(dict.fromkeys(r["config"]["model"] for r in rows))
    figure = Figure(layout="constrained", figsize=(max(6, 1.2 * len(models)), 3.6))
    ax = figure.subplots()
    width = 0.8 / max(1, len(protocols))
    for k, protocol in enumerate(protocols):
        found = {r["config"]["model"]: r["summary"]["val_accuracy"] for r in rows if r["config"]["protocol"] == protocol}
        x = np.arange(len(models)) + (k - (len(protocols) - 1) / 2) * width
        ax.bar(x, [found.get(m, {}).get("mean", np.nan) for m in models], width,
               yerr=[found.get(m, {}).get("std", 0) for m in models], label=protocol,
               color=PROTOCOL_COLORS.get(protocol), capsize=3)
    ax.axhline(1 / len(EMOTIONS), color="grey", linestyle=":", label="chance (1/7)")
    ax.set_xticks(np.arange(len(models)), models, rotation=20, ha="right")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return figure


def confusion_grid(rows: list[dict], title: str) -> Figure:
    """Row-normalised confusion matrices (true class by row), one panel per model."""
    n = len(rows)
    cols = min(3, n)
    figure = Figure(layout="constrained", figsize=(4.2 * cols, 3.9 * ((n + cols - 1) // cols)))
    axes = np.atleast_1d(figure.subplots((n + cols - 1) // cols, cols)).ravel()
    short = [e[:3] for e in EMOTIONS]
    for ax, row in zip(axes, rows):
        matrix = np.asarray(row["summary"]["val_confusion"], dtype=float)
        normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(100 * normalised, vmin=0, vmax=100, cmap="Blues")
        for i, j in np.ndindex(matrix.shape):
            ax.text(j, i, f"{100 * normalised[i, j]:.0f}" if matrix[i].sum() else "", ha="center", va="center",
                    fontsize=8, color="white" if normalised[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(EMOTIONS)), short, fontsize=8)
        ax.set_yticks(range(len(EMOTIONS)), short, fontsize=8)
        ax.set_xlabel("predicted", fontsize=9)
        ax.set_ylabel("true", fontsize=9)
        ax.set_title(f"{row['config']['model']}: {100 * row['summary']['val_accuracy']['mean']:.1f}% accuracy", fontsize=10)
    for ax in axes[n:]:
        ax.set_axis_off()
    figure.colorbar(image, ax=axes[:n].tolist(), shrink=0.8, label="% of the true class")
    figure.suptitle(title, fontsize=11)
    return figure


def sweep_curves(sweeps: list[dict]) -> Figure:
    """Validation (solid) and training (dashed) accuracy along each one-parameter sweep, per protocol."""
    names = list(dict.fromkeys(s["sweep"] for s in sweeps if len(s["points"][0]["params"]) == 1))
    # Two panels a row at most: a page scales a wide figure to its width, and a row of five left 7-pixel tick labels.
    columns = min(2, max(1, len(names)))
    rows = -(-max(1, len(names)) // columns)
    figure = Figure(layout="constrained", figsize=(4.6 * columns, 3.6 * rows))
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes, names):
        for sweep in (s for s in sweeps if s["sweep"] == name):
            (param,) = sweep["points"][0]["params"]
            x = [p["params"][param] for p in sweep["points"]]
            color = PROTOCOL_COLORS.get(sweep["protocol"])
            ax.plot(x, [p["summary"]["val_accuracy"]["mean"] for p in sweep["points"]], "o-", color=color, label=f"{sweep['protocol']} val")
            ax.plot(x, [p["summary"]["train_accuracy"]["mean"] for p in sweep["points"]], "--", color=color, alpha=0.5, label=f"{sweep['protocol']} train")
            if param == "C" or param == "batch_size":
                ax.set_xscale("log")
            ax.set_xlabel(param, fontsize=11)
        ax.set_title(f"{name} ({sweep['model']})", fontsize=12)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("accuracy", fontsize=11)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=9)
    return figure


def svm_grid(sweep: dict) -> Figure:
    """Validation accuracy over C x gamma, one heatmap per kernel."""
    points = sweep["points"]
    kernels = list(dict.fromkeys(p["params"]["kernel"] for p in points))
    cs = list(dict.fromkeys(p["params"]["C"] for p in points))
    gammas = list(dict.fromkeys(p["params"]["gamma"] for p in points))
    figure = Figure(layout="constrained", figsize=(4.8 * len(kernels) + 1, 3.8))
    axes = np.atleast_1d(figure.subplots(1, len(kernels)))
    grids = {}
    for kernel in kernels:
        grid = np.full((len(cs), len(gammas)), np.nan)
        for p in points:
            if p["params"]["kernel"] == kernel:
                grid[cs.index(p["params"]["C"]), gammas.index(p["params"]["gamma"])] = 100 * p["summary"]["val_accuracy"]["mean"]
        grids[kernel] = grid
    # One colour scale for every kernel, so the same colour is the same accuracy in each panel.
    low = min(np.nanmin(g) for g in grids.values())
    high = max(np.nanmax(g) for g in grids.values())
    for ax, kernel in zip(axes, kernels):
        grid = grids[kernel]
        image = ax.imshow(grid, cmap="viridis", vmin=low, vmax=high)
        for i, j in np.ndindex(grid.shape):
            bright = grid[i, j] > (low + high) / 2  # viridis is light at the top: dark text there
            ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=10, color="black" if bright else "white")
        ax.set_xticks(range(len(gammas)), [str(g) for g in gammas], fontsize=9)
        ax.set_yticks(range(len(cs)), [str(c) for c in cs], fontsize=9)
        ax.set_xlabel("gamma", fontsize=10)
        ax.set_ylabel("C", fontsize=10)
        ax.set_title(f"{sweep['model']}, {kernel} kernel ({sweep['protocol']})", fontsize=11)
    figure.colorbar(image, ax=axes.tolist(), label="validation accuracy %")
    return figure


def augmentation_bars(plain: list[dict], augmented: list[dict]) -> Figure:
    """Validation accuracy with and without the study's augmentation, per model and protocol."""
    labels, before, after = [], [], []
    for row in augmented:
        key = (row["config"]["model"], row["config"]["protocol"])
        match = next((r for r in plain if (r["config"]["model"], r["config"]["protocol"]) == key), None)
        if match is None:
            continue
        labels.append(f"{key[0]}\n{key[1]}")
        before.append(match["summary"]["val_accuracy"]["mean"])
        after.append(row["summary"]["val_accuracy"]["mean"])
    figure = Figure(layout="constrained", figsize=(max(5, 1.1 * len(labels)), 3.4))
    ax = figure.subplots()
    x = np.arange(len(labels))
    ax.bar(x - 0.2, before, 0.4, label="plain", color="#7f7f7f")
    ax.bar(x + 0.2, after, 0.4, label="augmented", color="#9467bd")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return figure


def training_curves(rows: list[dict]) -> Figure:
    """The study's Figure 6: accuracy and loss per epoch, training (dashed) and validation (solid), mean over folds."""
    rows = [r for r in rows if "history" in r["summary"]]
    figure = Figure(layout="constrained", figsize=(9, 3.4))
    acc_ax, loss_ax = figure.subplots(1, 2)
    colors = plt_colors(len(rows))
    for row, color in zip(rows, colors):
        history = row["summary"]["history"]
        epochs = [h["epoch"] for h in history]
        pixels = row["config"]["pixels"]
        aligned = f", aligned {pixels['size']}" if pixels.get("crop") == "aligned" else ""
        label = f"{row['config']['model']} ({row['config']['protocol']}{aligned})"
        for ax, key in ((acc_ax, "accuracy"), (loss_ax, "loss")):
            ax.plot(epochs, [h[f"train_{key}"] for h in history], "--", color=color, alpha=0.6)
            if f"val_{key}" in history[0]:
                ax.plot(epochs, [h[f"val_{key}"] for h in history], "-", color=color, label=label)
    for ax, key in ((acc_ax, "accuracy"), (loss_ax, "loss")):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
    acc_ax.set_ylim(0, 1.02)
    acc_ax.legend(fontsize=7)
    acc_ax.set_title("solid: validation, dashed: training", fontsize=8)
    return figure


def plt_colors(n: int) -> list:
    from matplotlib import colormaps

    return [colormaps["tab10"](i % 10) for i in range(n)]
