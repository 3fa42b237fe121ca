"""The web API under property-based fuzzing from its own OpenAPI schema (Schemathesis, in-process, bounded).

Every operation gets generated requests, valid and not; the image field draws from real images
(photos with and without a face, of odd sizes and modes, in every accepted format) as well as
random bytes, so that the cases reach the masking and prediction code. Every answer must pass all
of Schemathesis's checks: no 5xx, and status, headers and body as the schema declares them.
"""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (in the test extra)")

from maskfer.web.app import IMAGE_TYPES, create_app  # noqa: E402

EXAMPLES = 60  # per operation and phase: bounded in time (a few seconds each)


def encoded(image: Image.Image, form: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=form)
    return buffer.getvalue()


@st.composite
def images(draw, form: str) -> bytes:
    """A real image in `form`: the demo portrait cut and scaled at random, or a flat or noisy picture, in some mode."""
    from skimage import data

    portrait = Image.fromarray(data.astronaut())
    kind = draw(st.sampled_from(["portrait", "cut", "flat", "noise", "tiny"]))
    if kind == "portrait":
        image = portrait.resize((draw(st.integers(64, 400)),) * 2)
    elif kind == "cut":
        x, y = draw(st.integers(0, 400)), draw(st.integers(0, 400))
        image = portrait.crop((x, y, x + draw(st.integers(2, 112)), y + draw(st.integers(2, 112))))
    elif kind == "noise":
        seed = draw(st.integers(0, 2**16))
        image = Image.fromarray(np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    else:
        side = 1 if kind == "tiny" else 40
        image = Image.new("RGB", (side, side), tuple(draw(st.lists(st.integers(0, 255), min_size=3, max_size=3))))
    modes = {"JPEG": ["RGB", "L", "CMYK"], "PNG": ["RGB", "L", "RGBA", "P"], "GIF": ["P"], "BMP": ["RGB", "L"],
             "TIFF": ["RGB", "RGBA", "CMYK"], "WEBP": ["RGB", "RGBA"]}[form]
    return encoded(image.convert(draw(st.sampled_from(modes))), form)


for media_type in IMAGE_TYPES.split(", "):  # mostly real images; sometimes bytes that only claim to be one
    schemathesis.openapi.media_type(media_type, st.one_of(images(media_type.split("/")[1].upper()), st.binary(max_size=64)))

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
TRIED = []


# What a JSON Schema cannot say (an image's bytes; smooth without a stream): a schema-valid request may still be refused
# for these alone.
CONTENT_REFUSALS = {400: ("empty upload",), 415: ("not a supported image",),
                    422: ("too small to hold a face", "no face found in the photo", "damaged or unusable",
                          "so it needs a stream")}


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_answer_conforms_to_the_schema(case):
    from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

    # Every built-in check (server errors, status codes, content types, headers, response schemas), with
    # positive-data acceptance narrowed to the image-content reasons above. Negative-data rejection is left out:
    # multipart/form-data carries every field as text, so a "wrong type" the generator makes (an integer for the
    # stream id, a numeric string for the seed) arrives as text that the field rightly parses; each field's own
    # refusals (ranges, names, patterns) are tested in test_web.py's table of bad uploads.
    # Only the fuzzing phase's positive cases are held to it: the examples and coverage phases also send an empty
    # upload (an image field has no example to take) and, for a required enum, an empty string, as "positive".
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance, negative_data_rejection])
    meta = case.meta
    if meta is not None and meta.phase.name.value == "fuzzing" and meta.generation.mode.is_positive \
            and response.status_code >= 400:
        reasons = CONTENT_REFUSALS.get(response.status_code, ())
        assert any(r in response.json()["detail"] for r in reasons), (
            f"schema-valid request refused: {response.status_code} {response.text[:200]}")
    TRIED.append((case.operation.label, response.status_code))


@pytest.mark.slow  # reads what the fuzzing test recorded: runs with it
def test_the_fuzzing_reached_the_masking_and_prediction_code():
    for route in ("POST /api/predict", "POST /api/mask"):
        statuses = {status for label, status in TRIED if label == route}
        assert {200, 415, 422} <= statuses, f"{route}: the generated requests got only {sorted(statuses)}"
