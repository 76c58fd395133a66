"""`forgetflow prepare`: source -> data/ (PNG per sample + manifest) -> `dvc add data` -> data.dvc."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from components import data
from flows import dvc_repo
from flows.data_commit import read_forgotten
from flows.params import Params
from flows.workspace import Workspace


@dataclass(frozen=True)
class PrepareResult:
    data_md5: str
    n_samples: int
    skipped: bool


def data_stamp(params: Params, source: Path | None) -> dict:
    """What determines data/'s content; kept in data.dvc's `meta` to tell when it is stale. The
    duplicate keys only when set: data prepared before they existed is not stale for want of them."""
    values = {k: v for k, v in asdict(params.data).items() if not (k.startswith("duplicate_") and v == 0)}
    return {**values, "source": str(source) if source else "debian:dataset-fashion-mnist"}


def prepare(ws: Workspace, params: Params, source: Path | None = None, force: bool = False) -> PrepareResult:
    """Materialise data/ unless it already matches both data.dvc and the current data params.

    Samples listed in forgotten.csv (the committed tombstones) are never materialised again.
    """
    source = source or (Path(params.data.source) if params.data.source else None)
    stamp = data_stamp(params, source)
    if not force and _up_to_date(ws, stamp):
        return PrepareResult(ws.data_version(), len(data.read_manifest(ws.data_dir)), skipped=True)
    raw = data.load_source(source)
    result = data.materialise(raw, params.data, ws.data_dir, exclude=frozenset(read_forgotten(ws.forgotten_file)))
    data.verify_files(ws.data_dir, data.read_manifest(ws.data_dir))
    _dvc_add(ws, stamp)
    return PrepareResult(ws.data_version(), result.n_samples, skipped=False)


def _up_to_date(ws: Workspace, stamp: dict) -> bool:
    if not (ws.data_dir / data.MANIFEST_NAME).is_file() or not ws.data_dvc.is_file():
        return False
    if yaml.safe_load(ws.data_dvc.read_text()).get("meta", {}).get("forgetflow") != stamp:
        return False
    return not dvc_repo.status(ws, ws.data_dvc)


def _dvc_add(ws: Workspace, stamp: dict) -> None:
    """`dvc add data`, then record the stamp in data.dvc (DVC keeps `meta` on later adds)."""
    dvc_repo.add(ws, [ws.data_dir])
    pointer = yaml.safe_load(ws.data_dvc.read_text())
    pointer["meta"] = {"forgetflow": stamp}
    ws.data_dvc.write_text(yaml.safe_dump(pointer, sort_keys=False))
