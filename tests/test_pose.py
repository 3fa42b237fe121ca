"""Head pose against known answers: the reference rotated by known angles, and a real face rendered at known angles."""

import cv2
import numpy as np
import pytest
from scipy.spatial import Delaunay
from skimage import data

from maskfer.faces import find_faces
from maskfer.faces.pose import head_pose, normalised, reference_face, rotation_from_angles

NOSE_TIP, CHIN = 1, 152


@pytest.mark.parametrize("yaw, pitch, roll", [(0, 0, 0), (25, 0, 0), (0, -20, 0), (0, 0, 15), (30, 15, -10), (-45, -25, 20)])
def test_a_rotated_reference_reads_back_its_angles(yaw, pitch, roll):
    points = normalised(reference_face()) @ rotation_from_angles(yaw, pitch, roll).T * 80 + [320, 240, 0]
    assert np.allclose(head_pose(points), (yaw, pitch, roll), atol=1e-6)


def test_the_angles_mean_what_the_docstring_says():
    centre = normalised(reference_face()).mean(axis=0)
    moved = lambda *angles: normalised(reference_face()) @ rotation_from_angles(*angles).T  # noqa: E731
    assert moved(20, 0, 0)[NOSE_TIP, 0] > centre[0] + 0.1  # yaw > 0: the nose goes to the image's right
    assert moved(0, 20, 0)[NOSE_TIP, 1] < normalised(reference_face())[NOSE_TIP, 1] - 0.1  # pitch > 0: it goes up
    chin = moved(0, 0, 20)[CHIN]  # roll > 0: counter-clockwise in the image (y down), so the chin swings right
    assert chin[0] > 0.2


def render(image: np.ndarray, points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """The face's mesh turned by `rotation` about its centre: each triangle warped to where it projects, far ones first."""
    centre = points.mean(axis=0)
    moved = (points - centre) @ rotation.T + centre
    triangles = Delaunay(points[:, :2]).simplices
    out = np.empty_like(image)
    out[:] = image.mean(axis=(0, 1)).astype(np.uint8)
    for triangle in triangles[np.argsort(-moved[triangles, 2].mean(axis=1))]:
        source, target = points[triangle, :2].astype(np.float32), moved[triangle, :2].astype(np.float32)
        x, y, w, h = cv2.boundingRect(target)
        patch = cv2.warpAffine(image, cv2.getAffineTransform(source, target - np.float32([x, y])), (w, h),
                               borderMode=cv2.BORDER_REFLECT)
        inside = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(inside, np.int32(np.round(target - [x, y])), 1)
        region = out[y:y + h, x:x + w]
        keep = inside[: region.shape[0], : region.shape[1]] > 0
        region[keep] = patch[: region.shape[0], : region.shape[1]][keep]
    return out


@pytest.fixture(scope="module")
def portrait():
    image = data.astronaut()
    points = find_faces(image)[0].landmarks.astype(np.float64)
    level = render(image, points, np.eye(3))  # the same rendering at (0, 0, 0), so only the turn differs
    return image, points, find_faces(level)[0].pose


@pytest.mark.parametrize("yaw, pitch, roll", [(0, 15, 0), (0, -15, 0), (0, 25, 0), (0, 0, 20), (15, 0, 0), (-15, 0, 0)])
def test_a_face_rendered_at_known_angles_reads_them(portrait, yaw, pitch, roll):
    image, points, level = portrait
    faces = find_faces(render(image, points, rotation_from_angles(yaw, pitch, roll)))
    change = np.subtract(faces[0].pose, level)
    assert abs(change[1] - pitch) <= 5 and abs(change[2] - roll) <= 3, change
    # yaw reads low (about 10 for 15): the sign and a rough size are what it gives
    assert abs(change[0] - yaw) <= 6 and (np.sign(change[0]) == np.sign(yaw) or yaw == 0), change


def test_a_frontal_portrait_has_a_small_pitch():
    # it read 33-39 degrees with the six-point solvePnP this replaced
    yaw, pitch, roll = find_faces(data.astronaut())[0].pose
    assert abs(yaw) < 10 and abs(pitch) < 12 and abs(roll) < 8
