"""`forgetflow`: the command line. Heavy libraries are imported inside the commands that use them,
so `--help` and bookkeeping commands answer at once."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from components.errors import ForgetflowError
from flows import workspace as workspaces

app = typer.Typer(help="Make image-to-image models forget data on request, and prove it.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console()
err_console = Console(stderr=True)
WorkspaceOpt = Annotated[Optional[Path], typer.Option("--workspace", "-w", envvar="FORGETFLOW_WORKSPACE",
                                                      help="Workspace directory (default: current directory).")]


def command(*args, **kwargs):
    """app.command, plus: a ForgetflowError becomes one red line on stderr and exit code 1."""
    def register(fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            try:
                return fn(*a, **kw)
            except ForgetflowError as exc:
                err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
                raise typer.Exit(1) from None
        return app.command(*args, **kwargs)(wrapper)
    return register


def _open(ws_path: Path | None):
    from flows.params import load_params

    ws = workspaces.resolve(ws_path)
    return ws, load_params(ws.params_file)


@command()
def init(directory: Annotated[Path, typer.Argument(help="Directory to turn into a workspace.")]) -> None:
    """Create a workspace: git + DVC repos, params.yaml, dvc.yaml, mlruns/.  Example: forgetflow init /tmp/ws"""
    ws = workspaces.init(directory)
    console.print(f"initialised workspace [bold]{ws.root}[/bold]; next: forgetflow -w {ws.root} prepare")


@command()
def prepare(workspace: WorkspaceOpt = None,
            source: Annotated[Optional[Path], typer.Option(help="IDX or ImageFolder directory (default: params data.source, else the Debian package).")] = None,
            force: Annotated[bool, typer.Option(help="Rebuild even if data/ is up to date.")] = False) -> None:
    """Materialise data/ (PNG per sample + manifest.csv) and `dvc add` it.  Example: forgetflow prepare"""
    from flows.prepare import prepare as run_prepare

    ws, params = _open(workspace)
    result = run_prepare(ws, params, source, force)
    verb = "up to date" if result.skipped else "materialised"
    console.print(f"data/ {verb}: {result.n_samples} samples, data.dvc md5 [bold]{result.data_md5}[/bold]")


@command("train-featurenet")
def train_featurenet(workspace: WorkspaceOpt = None) -> None:
    """Train the feature net used by the metrics (dvc stage train_featurenet).  Example: forgetflow train-featurenet"""
    from flows import train_base

    ws, params = _open(workspace)
    metrics = train_base.train_featurenet(ws, params)
    console.print(f"feature net test accuracy {metrics['test_accuracy']:.3f} -> {ws.models_dir / train_base.FEATURENET}")


@command()
def train(workspace: WorkspaceOpt = None) -> None:
    """Train the base inpainter, register it in MLflow, alias it champion (dvc stage train_base).  Example: forgetflow train"""
    from flows import train_base

    ws, params = _open(workspace)
    version = train_base.train_base(ws, params)
    console.print(f"registered [bold]{version.name}[/bold] v{version.version} as champion (run {version.run_id})")


@command()
def status(workspace: WorkspaceOpt = None) -> None:
    """Data version, champion model and its metrics.  Example: forgetflow status"""
    ws, params = _open(workspace)
    _print_summary(ws, params)


@command()
def demo(workspace: WorkspaceOpt = None) -> None:
    """prepare -> train (skipping what is up to date) -> summary.  Example: forgetflow demo"""
    from flows.prepare import prepare as run_prepare

    ws, params = _open(workspace)
    console.rule("[bold]1. prepare data")
    result = run_prepare(ws, params)
    console.print(f"data/ {'up to date' if result.skipped else 'materialised'}: {result.n_samples} samples, md5 {result.data_md5}")
    console.rule("[bold]2. train base model")
    if _champion(ws, params) is None:
        _dvc(ws, "repro")
        if _champion(ws, params) is None:  # outputs were up to date but the registry is new
            _dvc(ws, "repro", "--force", "train_base")
    else:
        console.print("a champion is registered already; skipping (run `dvc repro` to retrain on changed params)")
    console.rule("[bold]3. summary")
    _print_summary(ws, params)


def _dvc(ws: workspaces.Workspace, *args: str) -> None:
    done = subprocess.run(["dvc", *args], cwd=ws.root, env=workspaces.tool_env(), check=False)
    if done.returncode != 0:
        raise ForgetflowError(f"`dvc {' '.join(args)}` failed with exit code {done.returncode}")


def _champion(ws: workspaces.Workspace, params):
    from mlflow.exceptions import MlflowException

    from components import registry

    client = registry.connect(ws.root, params.registry.experiment)
    try:
        return client.get_model_version_by_alias(params.registry.model_name, "champion")
    except MlflowException:
        return None


def _print_summary(ws: workspaces.Workspace, params) -> None:
    from components import registry

    table = Table(show_header=False, box=None)
    table.add_row("workspace", str(ws.root))
    table.add_row("data version (data.dvc md5)", ws.data_version() or "none: run `forgetflow prepare`")
    champion = _champion(ws, params)
    if champion is None:
        table.add_row("champion", "none: run `forgetflow demo` or `dvc repro`")
    else:
        table.add_row("champion", f"{params.registry.model_name} v{champion.version}  ({registry.model_uri(params.registry.model_name, 'champion')})")
        for key in ("stage", "data_dvc_md5", "git_commit"):
            table.add_row(f"  {key}", champion.tags.get(key, "-"))
    metrics_file = ws.metrics_dir / "base.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        table.add_row("base test PSNR, centre hole", f"{metrics['psnr_centre']:.2f} dB")
        table.add_row("base test PSNR, border", f"{metrics['psnr_border']:.2f} dB")
        table.add_row("feature-net accuracy (GT / inpainted)",
                      f"{metrics['featurenet_accuracy_ground_truth']:.3f} / {metrics['featurenet_accuracy_centre']:.3f}")
    grid = ws.reports_dir / "base_grid.png"
    if grid.is_file():
        table.add_row("image grid", str(grid))
    table.add_row("MLflow UI", f"mlflow ui --backend-store-uri {registry.tracking_uri(ws.root)}")
    console.print(table)
if __name__ == "__main__":
    app()
