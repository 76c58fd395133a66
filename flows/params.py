"""params.yaml -> typed, frozen configs. Parsed once by a flow and handed down to components.

Unknown sections or keys are errors, so a misspelt key fails loudly instead of being ignored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from components.data.materialise import DataConfig
from components.errors import BadInputError, WorkspaceError
from components.evaluation.gates import GateConfig
from components.ledger.policy import ScheduleConfig
from components.models.configs import ConvAEConfig, FitConfig, MAEConfig
from components.unlearning.config import UnlearnConfig


@dataclass(frozen=True)
class EvaluateConfig:
    centre_hole: int = 16
    border_width: int = 8
    grid_rows: int = 10
    min_fid_samples: int = 50
    accuracy_ci: float = 0.05  # held-out sets get the images an accuracy's 95% CI of +-this needs (385 at 0.05)
    reference_bank: int = 5000  # class gates: retained-class training images the never-seen reference fills from

    def __post_init__(self) -> None:
        if self.reference_bank < 10:
            raise ValueError(f"evaluate.reference_bank must be >= 10 (the reference averages 10 neighbours), got {self.reference_bank}")

    def masks(self) -> dict[str, tuple[str, int]]:
        return {"centre": ("centre", self.centre_hole), "border": ("border", self.border_width)}


PURGE_MODES = ("auto", "manual")


@dataclass(frozen=True)
class BatchConfig:
    max_requests: int = 100
    max_forget_fraction: float = 0.2  # validation stops a batch that would forget more of the train split
    max_attempts: int = 3             # a request that fails (or is rejected) this many times becomes `failed`
    purge: str = "auto"               # auto: purge right after promotion; manual: `forgetflow purge`
    deadline_days: float = 30.0       # a request is due this long after it is filed (GDPR Art. 12(3): one month)

    def __post_init__(self) -> None:
        if self.purge not in PURGE_MODES:
            raise ValueError(f"purge must be one of {PURGE_MODES}, not {self.purge!r}")
        if self.deadline_days <= 0:
            raise ValueError(f"deadline_days must be > 0, not {self.deadline_days}")


@dataclass(frozen=True)
class RegistryConfig:
    model_name: str = "forgetflow-mae"
    conv_ae_model_name: str = "forgetflow-convae"
    experiment: str = "forgetflow"
    challenger_serves: bool = False   # true: `contains` and purge treat `challenger` as served too


@dataclass(frozen=True)
class Params:
    data: DataConfig
    featurenet: FitConfig
    mae: MAEConfig
    conv_ae: ConvAEConfig
    train: FitConfig
    evaluate: EvaluateConfig
    registry: RegistryConfig
    unlearn: UnlearnConfig
    gates: GateConfig
    batch: BatchConfig
    schedule: ScheduleConfig


_SECTIONS = {"data": DataConfig, "featurenet": FitConfig, "mae": MAEConfig, "conv_ae": ConvAEConfig, "train": FitConfig,
             "evaluate": EvaluateConfig, "registry": RegistryConfig, "unlearn": UnlearnConfig, "gates": GateConfig,
             "batch": BatchConfig, "schedule": ScheduleConfig}

# keys a newer release renamed, so an older workspace's params.yaml fails with the fix in the message
RENAMED = {("unlearn", "max_retain_drift"): "max_retain_drop_pct"}  # latent drift -> the retain gate's PSNR unit
# keys a newer release dropped, with the reason
REMOVED = {("gates", "class_accuracy_slack"): "the recognisability gate could not fail on this data (no base ever did); "
                                              "recognisability is reported, not gated: delete the line"}


TEMPLATE = Path(__file__).with_name("templates") / "params.yaml"


class ParamsError(WorkspaceError, BadInputError):
    """params.yaml cannot be run as written: one line naming the key and why (bad input: exit 2)."""


def load_params(path: Path) -> Params:
    if not path.is_file():
        raise WorkspaceError(f"{path} not found: is this a forgetflow workspace? (`forgetflow init DIR`)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: invalid YAML ({' '.join(str(exc).split())})") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected sections ({', '.join(_SECTIONS)}), found a {type(raw).__name__}")
    unknown = set(raw) - set(_SECTIONS)
    if unknown:
        raise ParamsError(f"{path}: unknown section(s) {sorted(map(str, unknown))}; expected {sorted(_SECTIONS)}")
    bad = [name for name in _SECTIONS if not isinstance(raw.get(name) or {}, dict)]
    if bad:
        raise ParamsError(f"{path}: section {bad[0]!r} must be a mapping of keys to values, not {type(raw[bad[0]]).__name__}")
    return Params(**{name: _section(path, name, cls, raw.get(name) or {}) for name, cls in _SECTIONS.items()})


def _section(path: Path, name: str, cls: type, values: dict[str, Any]):
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        hints = "".join(f"; {name}.{k} is now {name}.{RENAMED[name, k]} (see flows/templates/params.yaml)"
                        for k in sorted(unknown) if (name, k) in RENAMED)
        hints += "".join(f"; {name}.{k} was removed: {REMOVED[name, k]}" for k in sorted(unknown) if (name, k) in REMOVED)
        raise ParamsError(f"{path}: unknown key(s) {sorted(map(str, unknown))} in section {name!r}{hints}")
    missing = sorted(set(known) - set(values))
    if missing:  # the dataclass defaults describe older models (they load old checkpoints), not what to train now
        shipped = (yaml.safe_load(TEMPLATE.read_text()) or {}).get(name) or {}
        lines = ", ".join(f"{k}: {json.dumps(shipped[k])}" for k in missing if k in shipped)
        raise ParamsError(f"{path}: section {name!r} lacks {missing}: every key is set in params.yaml"
                          + (f"; the shipped values: {lines}" if lines else "") + " (flows/templates/params.yaml)")
    defaults = cls()
    for key, value in values.items():
        expected = type(getattr(defaults, key))
        if not _is_a(value, expected):
            raise ParamsError(f"{path}: {name}.{key} must be {expected.__name__}, not {type(value).__name__} ({_brief(value)})")
    try:
        return cls(**{k: float(v) if isinstance(getattr(defaults, k), float) else v for k, v in values.items()})
    except (TypeError, ValueError) as exc:
        raise ParamsError(f"{path}: bad value in section {name!r}: {' '.join(str(exc).split())}") from exc


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_a(value: Any, expected: type) -> bool:
    """Strict: no 2.5 -> 2, no "3" -> 3, no true -> 1. An int is accepted where a float is expected."""
    if isinstance(value, bool) or expected is bool:
        return isinstance(value, bool) and expected is bool
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)


def prefixed(prefix: str, values: dict) -> dict:
    """Flatten one config section for MLflow params: {"lr": 1} -> {"train.lr": 1}."""
    return {f"{prefix}.{k}": v for k, v in values.items()}


def params_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
