"""Stage 6: protocols, cross-validation, sweeps."""

from maskfer.evaluation.experiment import ExperimentConfig, evaluate, save_result
from maskfer.evaluation.protocols import (PROTOCOLS, make_folds, random_folds, source_disjoint_folds,
                                          subject_disjoint_folds)

__all__ = [
    "ExperimentConfig", "PROTOCOLS", "evaluate", "make_folds", "random_folds",
    "save_result", "source_disjoint_folds", "subject_disjoint_folds",
]
