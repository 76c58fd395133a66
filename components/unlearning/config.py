"""Unlearning settings (the `unlearn:` section of params.yaml); torch-free so the CLI stays fast."""

from __future__ import annotations

from dataclasses import dataclass

METHODS = (
    "encoder-noise",
    "encoder-noise-proxy",
    "decoupling",
    "max-loss",
    "noisy-label",
    "retain-label",
    "random-encoder",
    "retrain",
)


@dataclass(frozen=True)
class UnlearnConfig:
    """Li et al. (ICLR'24, `i2i_mage/main_unlearn.py`) with a step budget and early stopping.

    lr = blr x batch_size / 256 (the official convention), warm-up `warmup_fraction` of the budget
    then cosine. blr is 4e-3 rather than MAGE's 1e-4: our encoder is ~100x smaller and the budget
    is tens of steps, not 6 epochs. The budget and stopping rules are explained in `paired.py`.

    Flat in memory although params.yaml nests `unlearn:` by concern (`flows/params.py` maps one to
    the other), so code reads `cfg.max_steps` and MLflow logs one flat set of params. Defaults are
    params.yaml's shipped values. The `retrain_*` fields are not `unlearn:` keys: `flows/params.py`
    fills them from `train:`, so the oracle retrains with the base recipe by construction.
    """

    method: str = "encoder-noise"
    alpha: float = 0.05
    blr: float = 4e-3
    batch_size: int = 64
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1
    grad_clip: float = 3.0
    retain_samples: int = 1000  # retain pool (or proxy) images the retain term and its probe draw from
    seed: int = 0
    # budget and early stopping (training-side probes only)
    forget_passes: float = 4.0
    min_steps: int = 16
    max_steps: int = 400
    check_every: int = 4
    stop_gap: float = 0.2
    stop_plateau: float = 0.01
    patience: int = 3
    max_retain_drop_pct: float = 1.0
    # decoupling (Varshney & Torra; unverified details, see decoupling.py)
    decouple_threshold: float = 1.0  # OOD threshold, in units of the original model's own forget error
    decouple_max_steps: int = 300
    dp_sigma: float = 0.0
    # retrain oracle: the base recipe, copied from params.yaml `train:` by flows/params.py (never set there)
    retrain_epochs: int = 16
    retrain_lr: float = 0.002
    retrain_batch_size: int = 32
    retrain_weight_decay: float = 0.05
    retrain_warmup_epochs: float = 1.0
    retrain_grad_clip: float = 3.0
    retrain_cosine: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {METHODS}")
