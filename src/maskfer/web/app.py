"""`maskfer serve`: one page and a JSON API over the prediction API (FastAPI).

Uploads are read into memory up to the size limit and never written to disk by maskfer; the
type is sniffed from the bytes (not the name or the header), and the pixel count is checked
from the header before decoding, so a decompression bomb is refused without being decoded.
Each request works on its own arrays; the face models' interpreters are per thread and the ONNX
sessions are thread-safe, so concurrent requests do not mix. A live stream (the page's webcam mode,
or any client that names its frames' `stream`) keeps its faces' tracks between requests: one
`FaceTracker` per stream, the least recently used forgotten past `ServeConfig.max_streams`.
"""

import base64
import io
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Literal

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

import maskfer
from maskfer.core.images import MAX_PIXELS, encode_image, image_kind
from maskfer.errors import MaskferError
from maskfer.prediction.batch import PredictConfig
from maskfer.web.schema import Health, Prediction, Version, problems



@dataclass(frozen=True)
class ServeConfig:
    max_upload_mb: float = 10.0
    max_pixels: int = MAX_PIXELS  # a larger image is refused from its header, before decoding
    max_faces: int = 10
    max_streams: int = 32  # live streams whose tracks are kept; the least recently used is forgotten first

    def __post_init__(self):
        for option, ok, rule in (("--max-upload-mb", self.max_upload_mb > 0, "more than 0"),
                                 ("--max-pixels", self.max_pixels >= 4, "at least 4"),
                                 ("--max-faces", self.max_faces >= 1, "at least 1"),
                                 ("--max-streams", self.max_streams >= 1, "at least 1")):
            if not ok:
                raise ValueError(f"{option} must be {rule}, got {getattr(self, option[2:].replace('-', '_')):g}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1e6)


class LiveStreams:
    """The face tracker of each live stream, by the id its client chose; `max_streams` kept, least recently used
    forgotten first. Each tracker comes with a lock: a stream's frames are read one at a time, in order."""

    def __init__(self, config: ServeConfig):
        self.config, self.trackers, self.lock = config, OrderedDict(), threading.Lock()

    def tracker(self, stream: str, smooth: float):
        from maskfer.prediction.tracking import FaceTracker, TrackerConfig

        with self.lock:
            entry = self.trackers.pop(stream, None)
            if entry is None or entry[0].config.smooth != smooth:  # a new stream, or new settings: tracks start afresh
                entry = (FaceTracker(TrackerConfig(smooth=smooth), self.config.max_faces), threading.Lock())
            self.trackers[stream] = entry
            while len(self.trackers) > self.config.max_streams:
                self.trackers.popitem(last=False)
            return entry


def decode_upload(data: bytes, config: ServeConfig) -> np.ndarray:
    """Bytes -> RGB array by the same decoder as files, or an HTTPException with a 4xx status that says why."""
    from maskfer.core.images import ImageError, ImageTooLarge, decode_image

    if not data:
        raise HTTPException(400, "empty upload")
    kind = image_kind(data)
    if kind is None:
        raise HTTPException(415, "not a supported image: expected JPEG, PNG, GIF, BMP, TIFF or WebP bytes")
    try:
        return decode_image(io.BytesIO(data), "upload", config.max_pixels)
    except ImageTooLarge as exc:
        raise HTTPException(413, exc.reason) from None
    except ImageError as exc:
        raise HTTPException(422, f"damaged or unusable {kind} image: {exc.reason}") from None


async def read_limited(upload: UploadFile, limit_bytes: int) -> bytes:
    chunks, size = [], 0
    while chunk := await upload.read(1 << 20):
        size += len(chunk)
        if size > limit_bytes:
            raise HTTPException(413, f"upload is over the limit of {limit_bytes / 1e6:.0f} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _jpeg_data_url(image: np.ndarray) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(encode_image(image, "jpg", quality=90)).decode()


STREAM_ID = r"^[A-Za-z0-9_-]{1,64}$"
STREAM_HELP = ("a live stream's id, chosen by its client (letters, digits, - and _, up to 64): its faces keep a `track` "
               "from one frame to the next, and are followed instead of detected between detections")
SMOOTH_HELP = "with `stream`: the weight of a face's past frames in its probabilities (0: each frame alone; under 1)"
# `time_s` is a plain number in the schema, left out by default: a nullable number is sent as text by multipart
# clients, which no number field parses.
TIME_HELP = ("with `stream`: the frame's time in seconds by the client's clock, which decides whether its faces are "
             "followed from the last frame's (frames under 0.25 s apart) or detected again; default: the server's clock")

# The upload's declared types, so that clients and schema-driven tools send images (the bytes are sniffed regardless).
IMAGE_TYPES = "image/jpeg, image/png, image/gif, image/bmp, image/tiff, image/webp"
UPLOAD = {"requestBody": {"content": {"multipart/form-data": {"encoding": {"image": {"contentType": IMAGE_TYPES}}}}}}


def create_app(config: ServeConfig = ServeConfig()) -> FastAPI:
    """The page, its static files and the JSON API, with the upload limits of `config`."""
    from fastapi_offline import FastAPIOffline

    # /docs and /redoc from files that ship in the fastapi-offline package, not from a CDN: they work offline.
    app = FastAPIOffline(title="maskfer", version=maskfer.__version__, favicon_url="/favicon.ico",
                         description="Facial expressions on masked faces: upload a photo, get each face's expression.")
    static = resources.files("maskfer.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    add_guards(app, config)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(str(static / "index.html"), media_type="text/html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return FileResponse(str(static / "favicon.png"), media_type="image/png")

    add_api(app, config)
    return app


def one_line(exc: RequestValidationError) -> str:
    """FastAPI's list of validation errors as the one line every other error is."""
    return "; ".join(f"{'.'.join(str(part) for part in error['loc'][1:]) or 'request'}: {error['msg']}"
                     for error in exc.errors())


def add_guards(app: FastAPI, config: ServeConfig) -> None:
    """The body-size guard and the error handlers: every error answers `{"detail": "one line"}`."""
    limit = config.max_upload_bytes

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        # A declared length over the limit is refused before the body is read at all.
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit + 64 * 1024:  # multipart framing allowance
            return JSONResponse({"detail": f"upload is over the limit of {config.max_upload_mb:g} MB"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": one_line(exc)}, status_code=422)

    @app.exception_handler(MaskferError)
    async def maskfer_error(request: Request, exc: MaskferError):
        return JSONResponse({"detail": str(exc)}, status_code=422)


def add_api(app: FastAPI, config: ServeConfig) -> None:
    """The JSON routes; mask names are an enum in the schema, taken from the registered masks."""
    from maskfer.faces import find_faces
    from maskfer.masks import MASKS, mask_faces  # both renderers registered

    limit = config.max_upload_bytes
    app.state.live_streams = streams = LiveStreams(config)
    MaskType = Literal[tuple(MASKS)]  # noqa: N806 (a type, built from the registry)
    MaskChoice = Literal[("none", "", *MASKS)]  # noqa: N806 ("" is what an HTML form sends for no choice)
    errors = problems(400, 413, 415, 422)

    @app.get("/api/health")
    def health() -> Health:
        return Health(status="ok")

    @app.get("/api/version")
    def version() -> Version:
        from maskfer.prediction.model import load_model

        model = load_model()
        return Version(maskfer=maskfer.__version__, model=model.path.name, model_input_size=model.size,
                       model_trained_by=model.metadata.get("maskfer_version"), classes=list(model.classes),
                       mask_types=list(MASKS), mask_renderers={name: spec.renderer for name, spec in MASKS.items()},
                       limits=asdict(config))

    @app.post("/api/predict", responses=errors, openapi_extra=UPLOAD, response_model_exclude_unset=True)
    async def predict(image: UploadFile = File(..., description="the photo"),
                      mask: MaskChoice = Form("none", description="draw this mask type on every face first", examples=["kn95"]),
                      seed: int = Form(0, ge=0, description="the seed of the drawn mask (0 or more)"),
                      stream: str | None = Form(None, pattern=STREAM_ID, description=STREAM_HELP, examples=["webcam-1"]),
                      smooth: float = Form(0.0, ge=0, lt=1, description=SMOOTH_HELP),
                      time_s: float = Form(None, ge=0, description=TIME_HELP)) -> Prediction:
        """Every face with its box, mask worn or not, expression and seven probabilities (and with `stream`, its track)."""
        if smooth and not stream:
            raise HTTPException(422, "smooth: averages a stream's frames, so it needs a stream")
        if time_s is not None and not stream:
            raise HTTPException(422, "time_s: the time of a stream's frame, so it needs a stream")
        data = await read_limited(image, limit)
        rgb = await run_in_threadpool(decode_upload, data, config)  # decoding is CPU work: off the event loop
        kind = None if mask in ("none", "") else mask
        tracker = streams.tracker(stream, smooth) if stream else None
        return Prediction(**await run_in_threadpool(_predict, rgb, PredictConfig(max_faces=config.max_faces, try_mask=kind, seed=seed),
                                                    tracker, time_s))

    @app.post("/api/mask", response_class=Response, openapi_extra=UPLOAD,
              responses={200: {"content": {"image/png": {}}, "description": "the masked photo",
                               "headers": {"X-Faces-Masked": {"schema": {"type": "integer"}, "description": "faces masked"}}},
                         **errors})
    async def mask_image(image: UploadFile = File(..., description="the photo"),
                         mask: MaskType = Form(..., description="a mask type", examples=["surgical"]),
                         seed: int = Form(0, ge=0, description="the seed of the drawn mask (0 or more)")) -> Response:
        """The photo as PNG with a synthetic mask drawn on every face; 422 when no face is found."""
        data = await read_limited(image, limit)
        rgb = await run_in_threadpool(decode_upload, data, config)
        faces = await run_in_threadpool(find_faces, rgb)  # found once: the count answers, the same faces are masked
        if not faces:
            raise HTTPException(422, "no face found in the photo, so no mask was drawn")
        masked = await run_in_threadpool(mask_faces, rgb, faces, mask, seed)
        return Response(encode_image(masked, "png"), media_type="image/png", headers={"X-Faces-Masked": str(len(faces))})


def _predict(rgb: np.ndarray, config: PredictConfig, tracker=None, time_s: float | None = None) -> dict:
    """The answer to /api/predict; with `tracker` (a stream's `FaceTracker` and its lock), each face's track too, the
    frame at `time_s` (None: the clock's)."""
    from maskfer.prediction.api import read_faces
    from maskfer.prediction.batch import tracked_frame

    if tracker is None:
        shown, faces = read_faces(rgb, max_faces=config.max_faces, try_mask=config.try_mask, seed=config.seed, model=config.model)
        answers = [f.to_dict() for f in faces]
    else:
        follow, lock = tracker
        with lock:
            shown, faces, tracks = tracked_frame(follow, rgb, config, time_s)
        answers = [{**f.to_dict(), "track": track} for f, track in zip(faces, tracks)]
    out = {"width": int(rgb.shape[1]), "height": int(rgb.shape[0]), "mask_drawn": config.try_mask, "faces": answers}
    if config.try_mask:
        out["image"] = _jpeg_data_url(shown)
    return out
