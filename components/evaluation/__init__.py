"""Evaluation: masked-region metrics, classifier accuracy, image grids."""

from components.evaluation.grids import save_grid
from components.evaluation.inpainting import evaluate_inpainter
from components.evaluation.metrics import accuracy, masked_psnr, predict_batched

__all__ = ["accuracy", "evaluate_inpainter", "masked_psnr", "predict_batched", "save_grid"]
