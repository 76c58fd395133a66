"""A workspace is a directory holding data (DVC), params, models, the registry and the ledger.

The repo root is one; `forgetflow init DIR` makes another (git init + dvc init + pipeline files)
so that tests and users can work without touching the repo.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from components.errors import WorkspaceError

OFFLINE_ENV = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}
GITIGNORE = """\
# generated state: DVC, MLflow and Prefect own it, not git
/data
/mlruns/mlflow.db
/mlruns/artifacts
/models/unlearned
/.prefect
/.forgetflow
/reports
/.data-*
/.venv
__pycache__/
*.egg-info/
"""
CODE_DEPS = ("components/data", "components/models", "components/evaluation", "flows/train_base.py")


UNLEARNED_DIR = Path("models") / "unlearned"  # promoted batches' checkpoints, DVC-tracked


def unlearned_paths(digest: str) -> tuple[Path, Path]:
    """Where a promoted batch's checkpoint (and its config) live in the workspace, DVC-tracked."""
    stem = UNLEARNED_DIR / digest[:16]
    return stem.with_suffix(".pt"), stem.with_suffix(".json")


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def data_dvc(self) -> Path:
        return self.root / "data.dvc"

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def state_dir(self) -> Path:
        """Local, git-ignored state: the ledger, the batch lock, per-batch scratch directories."""
        return self.root / ".forgetflow"

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.db"

    @property
    def forgotten_file(self) -> Path:
        """Committed export of the tombstones, so `prepare` never brings a forgotten sample back."""
        return self.root / "forgotten.csv"

    def batch_dir(self, batch_id: str) -> Path:
        return self.state_dir / "batches" / batch_id

    def data_version(self) -> str | None:
        """The md5 `dvc add data` recorded in data.dvc (None before the first `prepare`)."""
        if not self.data_dvc.is_file():
            return None
        return yaml.safe_load(self.data_dvc.read_text())["outs"][0]["md5"]

    def git_commit(self) -> str:
        """HEAD of the workspace's git repo, '+dirty' when tracked files changed; 'none' outside git."""
        head = git(self.root, "rev-parse", "HEAD")
        if head is None:
            return "none"
        dirty = git(self.root, "status", "--porcelain", "--untracked-files=no")
        return head + ("+dirty" if dirty else "")


@contextmanager
def file_lock(path: Path, wait: float, busy: Callable[[str], Exception]) -> Iterator[None]:
    """An exclusive flock holding our pid, waiting up to `wait` seconds; else raise busy(holder pid).
    The kernel releases it when the process dies, even by kill -9, so a crash never wedges a workspace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with open(path, "a+") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                fh.seek(0)
                raise busy(fh.read().strip() or "?") from None
        fh.truncate(0)
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def set_offline_env() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def set_prefect_env(ws: Workspace) -> None:
    """Before Prefect is imported: its home (database, logs) inside the workspace; component logs
    in run logs; two client retries (2 s, 4 s) instead of five (2 to 32 s, per request): when the
    API is gone, a run whose batch already settled still drains Prefect's log and event queues at
    exit: under 120 s with two retries, more than 5 min with five (measured). An explicit setting
    in the environment wins."""
    os.environ.setdefault("PREFECT_HOME", str(ws.root / ".prefect"))
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "2")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "components")


def resolve(path: Path | None) -> Workspace:
    """--workspace, else $FORGETFLOW_WORKSPACE, else the current directory; must be initialised."""
    root = Path(path or os.environ.get("FORGETFLOW_WORKSPACE") or Path.cwd()).resolve()
    if not (root / "params.yaml").is_file() or not (root / ".dvc").is_dir():
        raise WorkspaceError(f"{root} is not an initialised forgetflow workspace (run `forgetflow init {root}`)")
    set_offline_env()
    return Workspace(root)


def init(root: Path) -> Workspace:
    """Create a workspace: git repo, DVC repo, params.yaml, prefect.yaml, dvc.yaml, .gitignore, mlruns/. Idempotent."""
    set_offline_env()
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    if git(root, "rev-parse", "--show-toplevel") != str(root):
        if git(root, "init", "-q") is None:
            raise WorkspaceError(f"{root}: `git init` failed (is git installed?)")
    if not (root / ".dvc").is_dir():
        from flows import dvc_repo  # it builds on this module

        dvc_repo.init(root)
    for name in ("params.yaml", "prefect.yaml"):
        if not (root / name).exists():
            (root / name).write_text(resources.files("flows").joinpath(f"templates/{name}").read_text())
    (root / "dvc.yaml").write_text(dvc_yaml(code_deps=all((root / d).exists() for d in CODE_DEPS)))
    (root / ".gitignore").write_text(GITIGNORE)
    (root / "mlruns").mkdir(exist_ok=True)
    (root / "mlruns" / ".gitkeep").touch()
    git(
        root,
        "add",
        ".gitignore",
        ".dvcignore",
        ".dvc/config",
        ".dvc/.gitignore",
        "params.yaml",
        "prefect.yaml",
        "dvc.yaml",
        "mlruns/.gitkeep",
    )
    if git(root, "diff", "--cached", "--quiet") is None:  # exit 1 = something is staged
        commit(root, "forgetflow init")
    return Workspace(root)


def dvc_yaml(code_deps: bool) -> str:
    """The training pipeline. Code deps are listed only where the code lives in the workspace (repo root)."""
    code = list(CODE_DEPS) if code_deps else []
    stages = {
        "train_featurenet": {
            "cmd": "forgetflow train-featurenet",
            "deps": ["data", *code],
            "params": ["featurenet"],
            "outs": ["models/featurenet.pt", "models/featurenet.json"],
            "metrics": [{"metrics/featurenet.json": {"cache": False}}],
        },
        "train_base": {
            "cmd": "forgetflow train",
            "deps": ["data", "models/featurenet.pt", "models/featurenet.json", *code],
            "params": ["mae", "train", "evaluate", "registry"],
            "outs": ["models/base.pt", "models/base.json"],
            "metrics": [{"metrics/base.json": {"cache": False}}],
            "plots": [{"reports/base_grid.png": {"cache": False}}],
        },
        "train_conv_ae": {
            "cmd": "forgetflow train --family conv-ae",
            "deps": ["data", "models/featurenet.pt", "models/featurenet.json", *code],
            "params": ["conv_ae", "train", "evaluate", "registry"],
            "outs": ["models/conv_ae.pt", "models/conv_ae.json"],
            "metrics": [{"metrics/conv_ae.json": {"cache": False}}],
            "plots": [{"reports/conv_ae_grid.png": {"cache": False}}],
        },
    }
    return yaml.safe_dump({"stages": stages}, sort_keys=False)


def commit(root: Path, message: str, tag: str | None = None, paths: list[str] | None = None) -> str | None:
    """Commit what is staged (only `paths` if given), with a fallback identity so CI and fresh machines work."""
    ident = ["-c", "user.name=forgetflow", "-c", "user.email=forgetflow@localhost"]
    has_ident = git(root, "config", "user.email")
    only = ["--", *paths] if paths else []
    if git(root, *([] if has_ident else ident), "commit", "-q", "-m", message, *only) is None:
        return None
    if tag:
        git(root, *([] if has_ident else ident), "tag", "-a", tag, "-m", message)
    return git(root, "rev-parse", "HEAD")


def git(root: Path, *args: str) -> str | None:
    """Run git in `root`; stdout on success, None on failure or when git is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def tool_env() -> dict[str, str]:
    """Environment for child tools (dvc repro -> forgetflow): this interpreter's bin dir on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
