"""The JSON API's answers and errors as pydantic models, so that the OpenAPI schema says what is sent.

Every error, whatever raised it (a bad form field, an unsupported or damaged image, a body over the
limit), is one `Problem`: `{"detail": "one line that says what was wrong"}`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from maskfer.labels import EMOTIONS
from maskfer.prediction.api import STATUSES


class Problem(BaseModel):
    detail: str = Field(description="one line that says what was wrong")


class Face(BaseModel):
    box: list[int] = Field(min_length=4, max_length=4, description="x0, y0, x1, y1 in image pixels")
    yaw: float
    pitch: float
    roll: float
    status: str = Field(json_schema_extra={"enum": list(STATUSES)},
                        description="'too small to read': a face found but too small for a mask or expression reading")
    face_score: float = Field(ge=0, le=1, description="how sure the face path is that this is a face (docs/faces.md)")
    mask_worn: bool | None = Field(description="whether a mask is worn (the mask-worn check); null when too small to read")
    mask_worn_probability: float | None = Field(ge=0, le=1)
    expression: str | None = Field(json_schema_extra={"enum": [*EMOTIONS, None]})
    probabilities: dict[str, float] | None = Field(description="the seven expressions' probabilities")
    track: int | None = Field(None, description="with a `stream`: the face's id, kept from one frame to the next")


class Prediction(BaseModel):
    width: int
    height: int
    mask_drawn: str | None = Field(description="the mask type drawn on every face first, if any")
    faces: list[Face]
    image: str | None = Field(None, description="with a mask: the masked photo as a JPEG data URL")


class Health(BaseModel):
    status: str


class Version(BaseModel):
    maskfer: str
    model: str
    model_input_size: int
    model_trained_by: str | None
    classes: list[str]
    mask_types: list[str]
    mask_renderers: dict[str, str]
    limits: dict[str, float | int]


def problems(*statuses: int) -> dict:
    """FastAPI `responses=` for these error statuses, each a `Problem`."""
    meaning = {400: "empty upload", 413: "upload or image too large", 415: "not a supported image type",
               422: "a field or the image is not usable"}
    return {status: {"model": Problem, "description": meaning[status]} for status in statuses}
