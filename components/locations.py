"""Where a workspace's MLflow store lives, importable without MLflow (bookkeeping commands must
answer in well under a second; `import mlflow` alone takes about 2 s here)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from components.errors import WorkspaceError


def tracking_uri(workspace: Path) -> str:
    """`MLFLOW_TRACKING_URI` (a real server) if set, else the workspace's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(workspace / 'mlruns' / 'mlflow.db').resolve()}"


# every place MLflow 3's SQLite store keeps an absolute artifact location
LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)


def _own_root(workspace: Path) -> str:
    return (workspace / "mlruns" / "artifacts").resolve().as_uri()


def _store(workspace: Path) -> Path:
    return workspace / "mlruns" / "mlflow.db"


def foreign_locations(workspace: Path) -> set[str]:
    """file:// artifact locations in the workspace's own store that lie outside its mlruns/artifacts.

    MLflow records absolute locations, so a copied (`cp -a`) or moved workspace still points at the
    original's files: the copy would log into them and its purge would delete them."""
    if not _store(workspace).is_file():
        return set()
    own = _own_root(workspace)
    found = set()
    with contextlib.closing(sqlite3.connect(f"file:{_store(workspace)}?mode=ro", uri=True)) as db:
        for table, column in LOCATION_COLUMNS:
            try:
                rows = db.execute(f"SELECT {column} FROM {table}").fetchall()
            except sqlite3.OperationalError:  # a table this MLflow version does not have
                continue
            found |= {v for (v,) in rows if v and v.startswith("file:") and v != own and not v.startswith(own + "/")}
    return found


def require_own_store(workspace: Path) -> None:
    """Refuse a workspace whose own MLflow store points into another workspace, before anything is touched."""
    if foreign := foreign_locations(workspace):
        raise WorkspaceError(
            f"{workspace}: its MLflow store points at artifacts outside it ({sorted(foreign)[0]}): the workspace "
            f"was copied or moved, and using it would write and delete the other one's files. Run "
            f"`forgetflow -w {workspace} relocate` to re-root them here; nothing was changed"
        )


def relocate(workspace: Path) -> tuple[list[str], int]:
    """Re-root every artifact location of the workspace's own store from the workspace it was copied
    from to this one (whose mlruns/artifacts `cp -a` copied along). Returns (old roots, rows changed).
    Locations that are not another workspace's `mlruns/artifacts` are refused: nothing is changed."""
    marker = "/mlruns/artifacts"
    foreign = foreign_locations(workspace)
    strays = sorted(v for v in foreign if marker not in v)
    if strays:
        raise WorkspaceError(f"{workspace}: artifact location {strays[0]} is not a forgetflow workspace's; re-root it by hand")
    roots = sorted({v[: v.index(marker) + len(marker)] for v in foreign})
    own, changed = _own_root(workspace), 0
    with contextlib.closing(sqlite3.connect(_store(workspace))) as db, db:
        for old in roots:
            for table, column in LOCATION_COLUMNS:
                try:
                    changed += db.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                        f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                        (own, len(old) + 1, old, len(old) + 1, old + "/"),
                    ).rowcount
                except sqlite3.OperationalError:
                    continue
    return roots, changed
