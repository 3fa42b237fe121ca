"""Stage 6: protocols, cross-validation, sweeps."""

from maskfer.evaluation.experiment import ExperimentConfig, Features, evaluate, save_result, table_features
from maskfer.evaluation.protocols import (PROTOCOLS, make_folds, random_folds, source_disjoint_folds,
                                          subject_disjoint_folds)

__all__ = [
    "ExperimentConfig", "Features", "PROTOCOLS", "evaluate", "make_folds", "random_folds",
    "save_result", "source_disjoint_folds", "subject_disjoint_folds", "table_features",
]
