"""The model card: the shipped model scored on every evaluation set (`scoring.py`), and MODEL_CARD.md written from
it (`writing.py`).

    maskfer model-card --data ../shared/data            # scores, then writes MODEL_CARD.md
    maskfer model-card --compare old.onnx:old-check.json  # and another model on the very same crops
"""

from maskfer.card.scoring import (RENDERERS, TIGHT_MARGINS, TIGHT_SETS, CardConfig, ShippedModels, evaluate_models,
                                  evaluation_sets, scores, tight_versions)
from maskfer.card.writing import ablation_table, model_card

__all__ = ["CardConfig", "RENDERERS", "ShippedModels", "TIGHT_MARGINS", "TIGHT_SETS", "ablation_table", "evaluate_models",
           "evaluation_sets", "model_card", "scores", "tight_versions"]
