"""Stage 2: faces. Detection, 468 landmarks, head pose and eye alignment, through one path
(`find_faces`) for masking, training and prediction."""

from maskfer.faces.align import BORDERS, aligned_crop, alignment_matrix, cut_to_face
from maskfer.faces.landmarks import (FACE_DATASETS, FACES_VERSION, USER_PHOTOS, Face, FaceScoreRule, box_overlap, cached_faces, crop_landmarks, find_faces,
                                     follow_face)
from maskfer.faces.pose import head_pose

__all__ = ["BORDERS", "FACE_DATASETS", "FACES_VERSION", "USER_PHOTOS", "Face", "FaceScoreRule", "aligned_crop", "box_overlap", "alignment_matrix", "cached_faces", "cut_to_face", "crop_landmarks", "find_faces",
           "follow_face", "head_pose"]
