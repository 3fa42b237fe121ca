"""The product's commands: `predict` (photos, folders, videos), `demo`, `serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from maskfer.cli.common import CLUSTER, SCHEDULER, MaskferCommand, app, compute_config, console, count, errors, user_errors
from maskfer.errors import MaskferError

@app.command(cls=MaskferCommand)
def predict(
    paths: list[Path] = typer.Argument(..., help="Images, videos, or folders (searched recursively).", metavar="PATH",
                                       show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write rows to this .csv, .jsonl, .ndjson or .json as they come (default: JSON lines on stdout)."),
    annotate: Optional[Path] = typer.Option(None, "--annotate", help="Folder for copies with each face boxed and labelled, mirroring the input tree."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an --out file already there, and annotated copies already in the --annotate folder."),
    try_mask: Optional[str] = typer.Option(None, "--try-mask", help="Draw this mask on every face first: surgical, cloth, n95, kn95, gas, black, inpaint, bandana, printed, duckbill or sport."),
    fps: float = typer.Option(1.0, "--fps", help="Video frames sampled per second."),
    redetect_every: int = typer.Option(10, "--redetect-every", help="In a video, sampled frames between face detections while every face is followed (1: detect on every frame)."),
    smooth: float = typer.Option(0.0, "--smooth", help="In a video, weight of a face's earlier frames in its probabilities, 0 to under 1 (0: off)."),
    max_faces: int = typer.Option(10, "--max-faces", help="At most this many faces per image, largest first."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Refuse an image whose header claims more pixels (decompression-bomb guard)."),
    model: Optional[Path] = typer.Option(None, "--model", help="An ONNX model file (default: the shipped one)."),
    resume: bool = typer.Option(False, "--resume", help="Keep the rows already in --out and read only the files they lack."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes, one runtime thread each (default 1: this process, on all its cores)."),
    scheduler: Optional[str] = SCHEDULER, cluster: str = CLUSTER,
):
    """Read the expression of every face in photos, folders and videos; one row per face."""
    from contextlib import nullcontext

    from maskfer.core.files import check_output_folder
    from maskfer.prediction.batch import PredictConfig, RowWriter
    from maskfer.prediction.model import load_mask_check, load_model

    with user_errors():
        config = PredictConfig(fps=fps, max_faces=max_faces, try_mask=try_mask, model=str(model) if model else None,
                               max_pixels=max_pixels, redetect_every=redetect_every, smooth=smooth)
        if resume and out is None:
            raise MaskferError("--resume needs --out: the file whose rows to keep")
        writer = RowWriter(out, resume, overwrite) if out is not None else nullcontext()  # checked here, before any work
        if annotate is not None:
            check_output_folder(annotate, "--annotate")
        load_model(config.model), load_mask_check()  # a bad model file stops here, before any work
        compute = compute_config(jobs, scheduler, cluster)
    tally = dict(read=0, faces=0, failed=0, total=0, kept=0)
    try:
        write_predictions(paths, config, writer if out is not None else None, annotate, overwrite, compute, tally)
    except KeyboardInterrupt:  # Ctrl-C, kill, timeout: the rows so far are in place; say how far it got
        errors.print(predict_summary(tally, out) + "; stopped before the end", highlight=False)
        raise typer.Exit(130) from None
    failed = tally["failed"]
    summary = predict_summary(tally, out)
    # The summary goes to stdout when the rows went to a file, failed files or not; with the rows on stdout it is
    # printed only after a failure, to stderr, so that stdout stays rows and a good run leaves stderr empty.
    if out is not None:
        console.print(summary, highlight=False)
    elif failed:
        errors.print(summary, highlight=False)
    if failed:
        raise typer.Exit(1)


def predict_summary(tally: dict, out) -> str:
    failed = tally["failed"]
    return (f"{tally['read']} of {count(tally['total'] - tally['kept'], 'file')} read"
            + (f" ({tally['kept']} kept from {out})" if tally["kept"] else "") + f", {count(tally['faces'], 'face')}"
            + (f", written to {out}" if out else "") + (f"; {count(failed, 'problem')}" if failed else ""))


def write_predictions(paths, config, writer, annotate, overwrite, compute, tally: dict) -> None:
    """Every file's rows to `writer` (None: JSON lines on stdout) and its problems to stderr, with a progress bar on a
    terminal; a kill or timeout still renames the rows so far into place. Counts for the summary go in `tally` as
    they come, so that a stopped run can say how far it got."""
    from contextlib import nullcontext

    from maskfer.core.interrupt import signals_interrupt
    from maskfer.core.progress import progress_display
    from maskfer.prediction.annotate import AnnotationNames
    from maskfer.prediction.batch import format_rows, iter_inputs, predict_files

    with signals_interrupt(), user_errors(), writer or nullcontext():
        done = writer.done if writer is not None else set()
        for file in iter_inputs(paths):  # counted, never listed
            tally["total"], tally["kept"] = tally["total"] + 1, tally["kept"] + (str(file) in done)
        # A live bar on a terminal only: in a log, stderr holds problems and nothing else.
        progress, advancer = progress_display(tally["total"] > 1 and errors.is_terminal, transient=True, console=errors)
        with progress:
            advance = advancer(progress.add_task("predicting", total=tally["total"]), "files predicted")
            advance(tally["kept"])
            files = (f for f in iter_inputs(paths) if str(f) not in done)
            for rows, problem in predict_files(files, config, annotate, lambda _: advance(), AnnotationNames(paths),
                                               overwrite, compute):
                if problem:
                    tally["failed"] += 1
                    errors.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
                tally["read"] += bool(rows)
                tally["faces"] += sum(r["status"] == "ok" for r in rows)
                if writer is None:
                    typer.echo(format_rows(rows, "jsonl"), nl=False)
                else:
                    writer.write(rows)


@app.command(cls=MaskferCommand)
def demo(
    out: Path = typer.Option(Path("maskfer-demo"), "--out", "-o", help="Folder for index.html and contact-sheet.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace index.html and contact-sheet.png already in --out."),
):
    """Draw the seven masks on a public-domain portrait that ships with scikit-image and read each version."""
    from maskfer.prediction.demo import run_demo

    with user_errors():
        summary = run_demo(out, overwrite=overwrite)
    for version, result in summary.items():
        console.print(f"{version:10s} -> {result['expression']:10s} (mask detected: {'yes' if result['mask_worn'] else 'no'})", highlight=False)
    console.print(f"page: {(out / 'index.html').resolve()}  contact sheet: {out / 'contact-sheet.png'}", soft_wrap=True)


def check_port_free(host: str, port: int) -> None:
    """A one-line error, before the URL is printed, where the address cannot be listened on (taken, or not this
    machine's)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise MaskferError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or --host") from None


@app.command(cls=MaskferCommand)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on (1 to 65535)."),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest upload accepted (more than 0)."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Largest image accepted, in pixels (decompression-bomb guard)."),
    max_streams: int = typer.Option(32, "--max-streams", min=1, help="Live streams whose face tracks are kept (the least recently used is forgotten first)."),
):
    """Serve the web page and the JSON API (OpenAPI docs at /docs)."""
    import uvicorn

    from maskfer.web.app import ServeConfig, create_app

    with user_errors():
        if not 1 <= port <= 65535:
            raise MaskferError(f"--port must be 1 to 65535, got {port}")
        app_ = create_app(ServeConfig(max_upload_mb=max_upload_mb, max_pixels=max_pixels, max_streams=max_streams))
        check_port_free(host, port)
    console.print(f"maskfer on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)", highlight=False)
    uvicorn.run(app_, host=host, port=port, log_level="warning")
