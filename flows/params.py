"""params.yaml -> typed, frozen configs. Parsed once by a flow and handed down to components.

Unknown sections or keys are errors, so a misspelt key fails loudly instead of being ignored; so is a
missing one (the message gives the shipped value), so params.yaml states everything a run uses.

`unlearn:` is nested by concern in params.yaml (top level: method, alpha, retain pool, seed; then
`optimizer`, `budget`, `stopping`, `decoupling`), while `UnlearnConfig` stays flat, so every
`params.unlearn.X` reader and the MLflow params are unchanged: `UNLEARN_LAYOUT` maps one to the other.
The retrain oracle has no keys of its own: `load_params` copies `train:` into `UnlearnConfig.retrain_*`
(`RETRAIN_FROM_TRAIN`), so the oracle cannot drift from the base recipe.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from components.data.materialise import DataConfig
from components.errors import BadInputError, WorkspaceError
from components.evaluation.gates import GateConfig
from components.ledger.policy import ScheduleConfig
from components.models.configs import ConvAEConfig, FeatureNetRecipe, FitConfig, MAEConfig
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
            raise ValueError(
                f"evaluate.reference_bank must be >= 10 (the reference averages 10 neighbours), got {self.reference_bank}"
            )

    def masks(self) -> dict[str, tuple[str, int]]:
        return {"centre": ("centre", self.centre_hole), "border": ("border", self.border_width)}


PURGE_MODES = ("auto", "manual")


@dataclass(frozen=True)
class BatchConfig:
    max_requests: int = 100
    max_forget_fraction: float = 0.2  # validation stops a batch that would forget more of the train split
    max_attempts: int = 3  # a request that fails (or is rejected) this many times becomes `failed`
    purge: str = "auto"  # auto: purge right after promotion; manual: `forgetflow purge`
    deadline_days: float = 30.0  # a request is due this long after it is filed (GDPR Art. 12(3): one month)

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
    challenger_serves: bool = False  # true: `contains` and purge treat `challenger` as served too


@dataclass(frozen=True)
class Params:
    data: DataConfig
    featurenet: FeatureNetRecipe
    mae: MAEConfig
    conv_ae: ConvAEConfig
    train: FitConfig
    evaluate: EvaluateConfig
    registry: RegistryConfig
    unlearn: UnlearnConfig
    gates: GateConfig
    batch: BatchConfig
    schedule: ScheduleConfig


_SECTIONS = {
    "data": DataConfig,
    "featurenet": FeatureNetRecipe,
    "mae": MAEConfig,
    "conv_ae": ConvAEConfig,
    "train": FitConfig,
    "evaluate": EvaluateConfig,
    "registry": RegistryConfig,
    "unlearn": UnlearnConfig,
    "gates": GateConfig,
    "batch": BatchConfig,
    "schedule": ScheduleConfig,
}

# params.yaml key -> config field name, or (a sub-section) a nested Layout. A section not in _LAYOUTS is flat: key = field.
Layout = dict[str, Any]
UNLEARN_LAYOUT: Layout = {
    "method": "method",
    "alpha": "alpha",
    "retain_samples": "retain_samples",
    "seed": "seed",
    "optimizer": {k: k for k in ("blr", "batch_size", "weight_decay", "warmup_fraction", "grad_clip")},
    "budget": {k: k for k in ("forget_passes", "min_steps", "max_steps")},
    "stopping": {k: k for k in ("check_every", "stop_gap", "stop_plateau", "patience", "max_retain_drop_pct")},
    "decoupling": {"threshold": "decouple_threshold", "max_steps": "decouple_max_steps", "dp_sigma": "dp_sigma"},
}
_LAYOUTS: dict[str, Layout] = {"unlearn": UNLEARN_LAYOUT}
# UnlearnConfig field <- `train:` key: the retrain oracle trains with the base recipe, never a copy of it
RETRAIN_FROM_TRAIN = {
    "retrain_epochs": "epochs",
    "retrain_lr": "lr",
    "retrain_batch_size": "batch_size",
    "retrain_weight_decay": "weight_decay",
    "retrain_warmup_epochs": "warmup_epochs",
    "retrain_grad_clip": "grad_clip",
    "retrain_cosine": "cosine",
}


def _layout_of(name: str) -> Layout:
    """How section `name` of params.yaml maps onto its config's fields."""
    return _LAYOUTS.get(name) or {f.name: f.name for f in fields(_SECTIONS[name])}


def _paths(layout: Layout, prefix: str) -> dict[str, str]:
    """{field: its dotted params.yaml key}."""
    out: dict[str, str] = {}
    for key, target in layout.items():
        out.update(_paths(target, f"{prefix}.{key}") if isinstance(target, dict) else {target: f"{prefix}.{key}"})
    return out


# keys a newer release moved or renamed, so an older workspace's params.yaml fails with the fix in the message:
# the flat `unlearn:` keys went into its sub-sections (each old key is the field's name)
RENAMED = {
    ("unlearn", "max_retain_drift"): "unlearn.stopping.max_retain_drop_pct",  # latent drift -> the gate's PSNR unit
    **{("unlearn", field): path for field, path in _paths(UNLEARN_LAYOUT, "unlearn").items() if path.count(".") > 1},
}
# keys a newer release dropped, with the reason
REMOVED = {
    ("gates", "class_accuracy_slack"): "the recognisability gate could not fail on this data (no base ever did); "
    "recognisability is reported, not gated: delete the line",
    **{("unlearn", field): "the retrain oracle trains with the `train:` recipe: delete the line" for field in RETRAIN_FROM_TRAIN},
}


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
    values = {
        name: _values(path, name, _layout_of(name), get_type_hints(cls), raw.get(name) or {}) for name, cls in _SECTIONS.items()
    }
    values["unlearn"].update({field: values["train"][key] for field, key in RETRAIN_FROM_TRAIN.items()})
    return Params(**{name: _build(path, name, cls, values[name]) for name, cls in _SECTIONS.items()})


def _values(path: Path, where: str, layout: Layout, types: dict[str, type], values: dict[Any, Any]) -> dict[str, Any]:
    """Check one (sub-)section against its layout; return {field: value}, ints where floats are expected as floats."""
    unknown = sorted(map(str, set(values) - set(layout)))
    if unknown:
        raise ParamsError(f"{path}: unknown key(s) {unknown} in section {where!r}{_hints(where, unknown)}")
    missing = sorted(set(layout) - set(values))
    if missing:  # a workspace's params.yaml is its record (DVC tracks it): nothing it runs may come from code
        shipped = _shipped(where)
        lines = ", ".join(f"{k}: {json.dumps(shipped[k])}" for k in missing if k in shipped)
        raise ParamsError(
            f"{path}: section {where!r} lacks {missing}: every key is set in params.yaml"
            + (f"; the shipped values: {lines}" if lines else "")
            + " (flows/templates/params.yaml)"
        )
    out: dict[str, Any] = {}
    for key, target in layout.items():
        value = values[key]
        if isinstance(target, dict):
            value = {} if value is None else value  # `budget:` with nothing under it: its keys are missing
            if not isinstance(value, dict):
                raise ParamsError(
                    f"{path}: section '{where}.{key}' must be a mapping of keys to values, not {type(value).__name__}"
                )
            out.update(_values(path, f"{where}.{key}", target, types, value))
            continue
        expected = types[target]
        if not _is_a(value, expected):
            raise ParamsError(f"{path}: {where}.{key} must be {expected.__name__}, not {type(value).__name__} ({_brief(value)})")
        out[target] = float(value) if expected is float else value
    return out


def _build(path: Path, name: str, cls: type, values: dict[str, Any]) -> Any:
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ParamsError(f"{path}: bad value in section {name!r}: {' '.join(str(exc).split())}") from exc


def _hints(where: str, unknown: list[str]) -> str:
    """Where an older release's keys went, on the same line as the error."""
    moved = [f"{where}.{k} is now {RENAMED[where, k]}" for k in unknown if (where, k) in RENAMED]
    removed: dict[str, list[str]] = {}
    for k in unknown:
        if (where, k) in REMOVED:
            removed.setdefault(REMOVED[where, k], []).append(f"{where}.{k}")
    return (f"; {', '.join(moved)} (see flows/templates/params.yaml)" if moved else "") + "".join(
        f"; {', '.join(keys)} {'was' if len(keys) == 1 else 'were'} removed: {why}" for why, keys in removed.items()
    )


def _shipped(where: str) -> dict[str, Any]:
    """Section `where` ("unlearn.budget") of the template params.yaml, for the values a missing key would have."""
    node: Any = yaml.safe_load(TEMPLATE.read_text()) or {}
    for part in where.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


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
