"""`forgetflow demo`: prepare -> train -> request -> deletion batch -> lineage on one workspace, each
phase under its heading and timed into reports/demo.json (flows/report.py `demo_record`). Phases
that are done already are skipped, so a second demo on the same workspace only shows the result.

Its batch runs as `forgetflow run` does (flows/runs.py). Heavy libraries are imported where they
are used, as in the CLI. It prints to the console it is handed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.console import Console

from components.errors import ForgetflowError
from components.locations import tracking_uri
from flows import runs, views
from flows import workspace as workspaces
from flows.params import Params
from flows.workspace import Workspace

PIPELINE_FILES = ("data.dvc", "dvc.lock", "metrics", "models/.gitignore")  # what `dvc repro` writes for git to keep


def run(ws: Workspace, params: Params, scenario: str, out: Console) -> None:
    """The whole demo; a failed deletion batch raises ForgetflowError after its report is shown."""
    from flows import dvc_repo, scenarios
    from flows.prepare import prepare
    from flows.report import demo_record
    from flows.status import lineage

    params = scenarios.apply(ws, params, scenario, has_champion(ws, params))
    phases: dict[str, float] = {}
    with _phase(out, phases, "prepare", "1. prepare data"):
        result = prepare(ws, params)
        out.print(
            f"data/ {'up to date' if result.skipped else 'materialised'}: {result.n_samples} samples, md5 {result.data_md5}"
        )
    with _phase(out, phases, "train", "2. train base model"):
        if not has_champion(ws, params):
            dvc_repo.run(ws, "repro", "train_base", stream=True)
            if not has_champion(ws, params):  # outputs were up to date but the registry is new
                dvc_repo.run(ws, "repro", "--force", "train_base", stream=True)
        else:
            out.print("a champion is registered already; skipping (run `dvc repro` to retrain on changed params)")
        _commit_pipeline(ws, out)
    with _phase(out, phases, "summary", "3. base model"):
        out.print(views.status_table(ws, params))
    with _phase(out, phases, "requests", "4. deletion requests"):
        _file_requests(ws, scenario, out)
    with _phase(
        out,
        phases,
        "batch",
        "5. deletion batch (Prefect flow: extract -> validate -> unlearn -> evaluate -> register -> promote -> commit data)",
    ):
        outcome = runs.batch(ws, params, say=out.print)
    if outcome.report and outcome.report.is_file():
        from rich.markdown import Markdown

        out.print(Markdown(outcome.report.read_text()))
    elif outcome.status == "idle":
        out.print("no pending requests (the demo's batch already ran: see reports/ and `forgetflow requests`)")
    if outcome.status == "failed":
        raise ForgetflowError(f"the demo batch failed: {outcome.error}")
    out.rule("[bold]6. lineage (forgetflow trace)")
    for line in views.trace_lines(lineage(ws, params, "champion")):
        out.print(line, highlight=False, soft_wrap=True)
    demo_record(ws, scenario, phases, outcome if outcome.status != "idle" else None)
    out.print(f"this run's record: {ws.reports_dir / 'demo.json'}")
    out.print(
        f"next: forgetflow requests · forgetflow trace · forgetflow rollback · "
        f"mlflow ui --backend-store-uri {tracking_uri(ws.root)}"
    )


def has_champion(ws: Workspace, params: Params) -> bool:
    """Whether the registry has a `champion` (the demo trains a base only when it has none)."""
    from components import registry

    client = registry.connect(ws.root, params.registry.experiment)
    return registry.CHAMPION in registry.aliases(client, params.registry.model_name)


@contextlib.contextmanager
def _phase(out: Console, phases: dict[str, float], name: str, title: str) -> Iterator[None]:
    """A demo phase under its heading, timed into `phases` (reports/demo.json)."""
    out.rule(f"[bold]{title}")
    start = time.perf_counter()
    yield
    phases[name] = round(time.perf_counter() - start, 1)


def _commit_pipeline(ws: Workspace, out: Console) -> None:
    """Commit what `dvc repro` recorded, as a DVC user would before going on: the batch's model
    version then names a commit that holds its data version and base, not '<commit>+dirty'."""
    paths = [p for p in PIPELINE_FILES if (ws.root / p).exists()]
    workspaces.git(ws.root, "add", "--", *paths)
    if sha := workspaces.commit(ws.root, "forgetflow: data and base model (dvc repro)", paths=paths):
        out.print(f"committed the pipeline's record (data.dvc, dvc.lock, metrics): {sha[:7]}")


def _file_requests(ws: Workspace, scenario: str, out: Console) -> None:
    """The scenario's requests (flows/scenarios.py), unless the workspace has requests already."""
    from components import data
    from components import ledger as ledgers
    from flows.scenarios import requests

    book = ledgers.Ledger(ws.ledger_path)
    try:
        if book.requests():
            out.print("requests already filed in this workspace; not filing the demo's again")
            return
        manifest = data.read_manifest(ws.data_dir)
        for kind, selector, reason in requests(manifest, scenario):
            r = ledgers.file_request(book, manifest, kind, selector, reason).request
            out.print(f"filed {r.id}: {kind} {','.join(selector)} ({len(r.sample_ids)} samples) - {reason}")
    finally:
        book.close()
