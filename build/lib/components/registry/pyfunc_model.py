"""MLflow "models from code" entry point for forgetflow inpainters.

MLflow executes this file when a registered version is loaded. It rebuilds the model from the
logged JSON config and loads the state_dict with `weights_only=True`, so loading a model from
the registry never unpickles code (unlike `mlflow.pytorch`'s pickle format).

Input: float32 images (N, 1, 32, 32) or (N, 32, 32) in [0, 1]. Params: `mask` ("centre" or
"border") and `extent` (hole side or border width, pixels). Output: the inpainted images.
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


class InpainterModel(PythonModel):
    def load_context(self, context) -> None:
        from pathlib import Path

        from components.models import checkpoint

        self.model = checkpoint.load(Path(context.artifacts["weights"]))

    def predict(self, context, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        # np.ndarray: MLflow skips type-hint schema inference (images are not a tabular schema)
        # instead of warning on every load that the hints are missing
        import torch

        from components.models.masking import make_mask

        params = params or {}
        x = torch.as_tensor(np.asarray(model_input, dtype=np.float32))
        x = x.unsqueeze(1) if x.ndim == 3 else x
        mask = make_mask(params.get("mask", "centre"), x.shape[-1], int(params.get("extent", 16)), len(x))
        return self.model.inpaint(x, mask).numpy()


mlflow.models.set_model(InpainterModel())
