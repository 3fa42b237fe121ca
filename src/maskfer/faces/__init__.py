"""Stage 2: faces. Detection, 468 landmarks, head pose, eye alignment and the lower-face features,
through one path (`find_faces`) for masking, training and prediction."""

from maskfer.faces.align import aligned_crop, alignment_matrix
from maskfer.faces.landmarks import FACES_VERSION, Face, cached_faces, crop_landmarks, find_faces, head_pose
from maskfer.faces.lower_face import mask_features

__all__ = ["FACES_VERSION", "Face", "aligned_crop", "alignment_matrix", "cached_faces", "crop_landmarks", "find_faces",
           "head_pose", "mask_features"]
