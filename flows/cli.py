"""`forgetflow`: the command line. Heavy libraries are imported inside the commands that use them,
so `--help` and bookkeeping commands answer at once."""

from __future__ import annotations

import functools
import json
from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from components.errors import BadInputError, ForgetflowError
from flows import workspace as workspaces

app = typer.Typer(
    help="Make image-to-image models forget data on request, and prove it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="FORGETFLOW_WORKSPACE", help="Workspace directory (default: current directory)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON on stdout).")]
# how `request` and `contains` name samples
SampleOpt = Annotated[list[str] | None, typer.Option("--sample", help="Sample id (repeatable).", show_default=False)]
SamplesFileOpt = Annotated[Path | None, typer.Option(help="File with one sample id per line.")]
SubjectOpt = Annotated[
    list[str] | None, typer.Option("--subject", help="Data owner id: all their samples (repeatable).", show_default=False)
]
LabelOpt = Annotated[str | None, typer.Option("--label", help="A whole class, by name or index.")]


@app.callback()
def main(workspace: WorkspaceOpt = None) -> None:
    """`forgetflow -w DIR COMMAND` works like `forgetflow COMMAND -w DIR`."""
    if workspace is not None:
        import os

        os.environ["FORGETFLOW_WORKSPACE"] = str(workspace)


def command(*args, **kwargs):
    """app.command, plus: a ForgetflowError becomes one red line on stderr and exit code 1
    (2 when the input itself is bad, as for usage errors)."""

    def register(fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            try:
                return fn(*a, **kw)
            except ForgetflowError as exc:
                err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
                raise typer.Exit(2 if isinstance(exc, BadInputError) else 1) from None

        return app.command(*args, **kwargs)(wrapper)

    return register


def _emit(obj) -> None:
    """The one way a command prints its --json answer."""
    console.print_json(json.dumps(obj))


def _open(ws_path: Path | None):
    from flows.params import load_params

    ws = workspaces.resolve(ws_path)
    return ws, load_params(ws.params_file)


@command()
def init(
    directory: Annotated[Path, typer.Argument(help="Directory to turn into a workspace.")],
    remote: Annotated[str | None, typer.Option(help="DVC remote (directory or URL): promoted batches push there.")] = None,
) -> None:
    """Create a workspace: git + DVC repos, params.yaml, dvc.yaml, mlruns/ (idempotent).  Example: forgetflow init /tmp/ws --remote /srv/dvc"""
    ws = workspaces.init(directory)
    if remote is not None:
        from flows import dvc_repo

        console.print(f"DVC remote [bold]{dvc_repo.configure_remote(ws, remote)}[/bold] (default; committed in .dvc/config)")
    console.print(f"initialised workspace [bold]{ws.root}[/bold]; next: forgetflow -w {ws.root} prepare")


@command()
def prepare(
    workspace: WorkspaceOpt = None,
    source: Annotated[
        Path | None, typer.Option(help="IDX or ImageFolder directory (default: params data.source, else the Debian package).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if data/ is up to date.")] = False,
) -> None:
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
def train(
    workspace: WorkspaceOpt = None,
    family: Annotated[str, typer.Option(help="mae (stage train_base) or conv-ae (stage train_conv_ae).")] = "mae",
) -> None:
    """Train a base inpainter, register it in MLflow, alias it champion.  Example: forgetflow train --family mae"""
    from flows import train_base

    if family not in train_base.FAMILIES:
        raise BadInputError(f"unknown family {family!r}; expected one of {sorted(train_base.FAMILIES)}")
    ws, params = _open(workspace)
    version = train_base.train_base(ws, params, family)
    console.print(f"registered [bold]{version.name}[/bold] v{version.version} as champion (run {version.run_id})")


@command()
def relocate(workspace: WorkspaceOpt = None) -> None:
    """Re-root a copied or moved workspace's MLflow artifact locations to itself.  Example: forgetflow -w /tmp/copy relocate"""
    from components.locations import relocate as rewrite_locations

    ws = workspaces.resolve(workspace)
    roots, changed = rewrite_locations(ws.root)
    if not roots:
        console.print(f"{ws.root}: every artifact location is inside the workspace already; nothing to do")
        return
    console.print(f"re-rooted {changed} artifact location(s) from {', '.join(roots)} to {ws.root / 'mlruns' / 'artifacts'}")


@command()
def status(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Data version, champion and its metrics, the queue, deadlines, the schedule.  Example: forgetflow status --json"""
    ws, params = _open(workspace)
    if as_json:
        from flows.status import summary

        _emit(summary(ws, params))
    else:
        from flows import views

        console.print(views.status_table(ws, params))


@command()
def demo(
    workspace: WorkspaceOpt = None,
    scenario: Annotated[
        str,
        typer.Option(
            help="default: a class, a subject and two samples; memorise: some subjects' "
            "images recur in the training data and one of them asks to be forgotten "
            "(a workspace of its own)."
        ),
    ] = "default",
) -> None:
    """prepare -> train -> request -> deletion batch -> trace (skips what is done).  Example: forgetflow demo --scenario memorise"""
    from flows import demo as demos

    ws, params = _open(workspace)
    demos.run(ws, params, scenario, console)


@command()
def request(
    workspace: WorkspaceOpt = None,
    sample: SampleOpt = None,
    samples_file: SamplesFileOpt = None,
    subject: SubjectOpt = None,
    label: LabelOpt = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """File a deletion request.  Example: forgetflow request --subject subj-000042 --reason "GDPR art. 17" """
    from components import data
    from components import ledger as ledgers

    ws, params = _open(workspace)
    kind, selector = _selector(sample, samples_file, subject, label)
    with ledgers.Ledger(ws.ledger_path) as book:
        result = ledgers.file_request(book, data.read_manifest(ws.data_dir), kind, selector, reason, params.batch.deadline_days)
    r = result.request
    if as_json:
        _emit(
            {
                "request_id": r.id if r else None,
                "created": result.created,
                "status": r.status if r else "forgotten",
                "n_samples": len(r.sample_ids) if r else 0,
                "due_at": r.due_at if r else None,
                "forgotten_by": list(result.forgotten_by),
            }
        )
    else:
        console.print(result.message() + (f"; due {r.due_at[:10]}" if r and result.created else ""), highlight=False)


def _selector(sample, samples_file, subject, label) -> tuple[str, list[str]]:
    from components.ledger import IntakeError

    ids = list(sample or [])
    if samples_file is not None:
        if not samples_file.is_file():
            raise IntakeError(f"{samples_file}: file not found")
        try:
            ids += [line.strip() for line in samples_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise IntakeError(f"{samples_file}: not a UTF-8 text file of sample ids") from None
    given = [(k, v) for k, v in (("sample", ids), ("subject", list(subject or [])), ("label", [label] if label else [])) if v]
    if len(given) != 1:
        raise IntakeError("give exactly one of --sample/--samples-file, --subject or --label")
    return given[0]


@command("requests")
def list_requests(
    workspace: WorkspaceOpt = None,
    status: Annotated[str | None, typer.Option(help="pending|processing|done|rejected|failed")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List deletion requests with their due dates (at risk / overdue).  Example: forgetflow requests --status pending"""
    from dataclasses import asdict
    from datetime import datetime

    from components import ledger as ledgers
    from components.ledger.policy import deadline_state

    ws, params = _open(workspace)
    with ledgers.Ledger(ws.ledger_path) as book:
        rows = book.requests(status)
    at, margin = datetime.now(UTC), params.schedule.deadline_margin_days
    if as_json:
        _emit([asdict(r) | {"sample_ids": len(r.sample_ids), "deadline": deadline_state(r, at, margin)} for r in rows])
        return
    from flows import views

    console.print(views.requests_table(rows, at, margin))
    for r in rows:
        if r.error and r.status in ("pending", "failed"):  # why its last batch did not finish it
            console.print(f"{r.id}: last attempt: {r.error}", highlight=False, soft_wrap=True)


@command()
def run(
    workspace: WorkspaceOpt = None,
    method: Annotated[str | None, typer.Option(help="encoder-noise | encoder-noise-proxy (default: params)")] = None,
    max_requests: Annotated[int | None, typer.Option(help="Pending requests per batch (default: params).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one deletion batch as a Prefect flow.  Example: forgetflow run --method encoder-noise"""
    from flows import runs

    if method is not None:
        from components.unlearning.config import METHODS

        if method not in METHODS:
            raise BadInputError(f"unknown method {method!r}; expected one of {METHODS}")
    ws, params = _open(workspace)
    outcome = runs.batch(ws, params, method, max_requests, say=(err_console if as_json else console).print, quiet=as_json)
    if as_json:
        from flows.transaction import outcome_json

        _emit(json.loads(outcome_json(outcome)))
    elif outcome.status == "idle":
        console.print("no pending requests: nothing to do")
    else:
        colour = {"promoted": "green", "needs_review": "yellow"}.get(outcome.status, "red")
        console.print(
            f"{outcome.batch_id}: [{colour}]{outcome.status}[/{colour}]"
            + (f", model v{outcome.model_version}" if outcome.model_version else "")
            + (f"; report {outcome.report}" if outcome.report else "")
        )
    if outcome.status == "failed":
        err_console.print(f"[red]error:[/red] {outcome.error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@command()
def serve(
    workspace: WorkspaceOpt = None,
    cron: Annotated[str | None, typer.Option(help="Cron expression, UTC (default: params schedule.cron).")] = None,
    interval: Annotated[float | None, typer.Option(help="Seconds between scheduled runs (instead of cron).")] = None,
) -> None:
    """Serve deletion batches on a schedule (a Prefect deployment) until Ctrl-C.  Example: forgetflow serve --cron "0 3 * * *" """
    import signal
    import sys

    from flows import prefect_server

    if cron is not None and interval is not None:
        raise BadInputError("give --cron or --interval, not both")
    if interval is not None and not interval > 0:
        raise BadInputError(f"--interval must be a positive number of seconds, not {interval}")
    ws, params = _open(workspace)
    cron = None if interval else cron or params.schedule.cron
    if cron:
        _check_cron(cron)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background (SIGINT ignored)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (finally blocks) from the first moment
    with workspaces.file_lock(
        ws.state_dir / "serve.lock",
        0,
        lambda pid: ForgetflowError(f"{ws.root} is already served by pid {pid}; stop it first (Ctrl-C or kill {pid})"),
    ):
        try:
            with prefect_server.api(ws) as url:
                from flows import service

                deployment = f"{service.FLOW_NAME}/{service.deployment_name(ws)}"
                console.print(
                    f"serving [bold]{deployment}[/bold] "
                    + (f"every {interval:g} s" if interval else f"on cron '{cron}' (UTC)")
                    + f" on the Prefect API {url}\nrun one now: prefect deployment run '{deployment}'"
                    + "\nCtrl-C stops (a running batch finishes first)",
                    highlight=False,
                )
                service.serve(ws, url, cron, interval)
        except KeyboardInterrupt:
            pass
        err_console.print("serve stopped")


def _check_cron(expr: str) -> None:
    from datetime import datetime

    from cronsim import CronSim, CronSimError

    try:
        CronSim(expr, datetime.now())
    except CronSimError as exc:
        raise BadInputError(f"bad cron expression {expr!r}: {exc}") from None


@command()
def trace(
    ref: Annotated[str, typer.Argument(help="Version number or alias.")] = "champion",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
    from_registry: Annotated[bool, typer.Option("--registry", help="Read MLflow itself, not the ledger's mirror of it.")] = False,
) -> None:
    """Lineage: version -> parent -> ... -> base.  Example: forgetflow trace champion"""
    from flows import views
    from flows.status import lineage

    ws, params = _open(workspace)
    chain = lineage(ws, params, ref, from_registry)
    if as_json:
        _emit(views.trace_records(chain))
        return
    for line in views.trace_lines(chain):
        console.print(line, highlight=False, soft_wrap=True)


@command()
def promote(
    version: Annotated[str, typer.Argument(help="Version number or alias (e.g. challenger).")],
    workspace: WorkspaceOpt = None,
    force: Annotated[bool, typer.Option(help="Promote although a gate failed (needs --reason).")] = False,
    reason: Annotated[str, typer.Option(help="Recorded on the version.")] = "",
) -> None:
    """Make a version champion (recorded).  Example: forgetflow promote challenger --force --reason "reviewed grids" """
    from flows import runs
    from flows.registry_ops import promote_version

    ws, params = _open(workspace)
    new, old = promote_version(ws, params, version, force, reason)
    console.print(f"champion: v{old} -> v{new}" if old else f"champion: v{new}")
    runs.follow_up(ws, params, console.print)


@command()
def rollback(workspace: WorkspaceOpt = None, reason: Annotated[str, typer.Option(help="Recorded on the versions.")] = "") -> None:
    """champion <- previous-champion (forgotten data stays forgotten).  Example: forgetflow rollback --reason "bad outputs" """
    from flows.registry_ops import rollback as run_rollback

    ws, params = _open(workspace)
    demoted, restored = run_rollback(ws, params, reason)
    console.print(f"champion: v{demoted} -> v{restored}")


@command()
def contains(
    sample_ids: Annotated[list[str] | None, typer.Argument(help="Deprecated: use --sample.", show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    sample: SampleOpt = None,
    samples_file: SamplesFileOpt = None,
    subject: SubjectOpt = None,
    label: LabelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which model versions still hold these samples. Exit 1 if a served alias does.  Example: forgetflow contains --subject subj-000042"""
    from flows import views
    from flows.compliance import contains as containment

    if sample_ids:
        err_console.print("positional sample ids are deprecated; use --sample ID", highlight=False, soft_wrap=True)
        sample = [*(sample or []), *sample_ids]
    ws, params = _open(workspace)
    kind, selector = _selector(sample, samples_file, subject, label)
    answer = containment.contains(ws, params, kind, selector)
    if as_json:
        _emit(answer)
    else:
        console.print(f"{answer['n_samples']} sample(s) asked for ({answer['n_forgotten']} forgotten by a promoted batch)")
        console.print(views.contains_table(answer))
        console.print(
            "[red]a served alias still contains them: " + ", ".join(answer["serving_contains"]) + "[/red]"
            if answer["serving_contains"]
            else "[green]no served alias contains them[/green]"
        )
    if answer["serving_contains"]:
        raise typer.Exit(1)


@command()
def purge(
    batch_id: Annotated[str | None, typer.Argument(help="A promoted batch (default: every unpurged one).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete forgotten data from the DVC cache/remote and tainted weights everywhere.  Example: forgetflow purge batch-000001"""
    from dataclasses import asdict

    from flows.compliance.purge import purge as run_purge
    from flows.transaction import batch_lock

    ws, params = _open(workspace)
    with batch_lock(ws):
        report = run_purge(ws, params, batch_id)
    if as_json:
        _emit(asdict(report))
    else:
        console.print(report.summary(), highlight=False)


@command()
def certificate(
    batch_id: Annotated[str | None, typer.Argument(help="A finished batch.")] = None,
    workspace: WorkspaceOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write here: .json, or .html for a person to read.")] = None,
    verify: Annotated[Path | None, typer.Option(help="Re-check every hash of a certificate (.json).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deletion certificate: hashes, versions, gates, purge; no pixels.  Example: forgetflow certificate batch-000001 --out cert.html"""
    from flows.compliance import certificate as certificates

    ws, params = _open(workspace)
    if verify is not None:
        problems = certificates.verify(ws, verify)
        for line in problems:
            err_console.print(f"[red]mismatch:[/red] {line}", highlight=False, soft_wrap=True)
        if problems:
            raise typer.Exit(1)
        console.print(f"{verify}: every hash matches this workspace")
        return
    if batch_id is None:
        raise BadInputError("give a BATCH_ID, or --verify FILE")
    cert = certificates.build(ws, params, batch_id)
    if out is not None:
        certificates.write(cert, out)
        console.print(f"wrote {out}")
    if as_json or out is None:
        _emit(cert)


@command()
def events(
    workspace: WorkspaceOpt = None,
    request_id: Annotated[str | None, typer.Option("--request", help="One request (and its batches).")] = None,
    batch_id: Annotated[str | None, typer.Option("--batch", help="One batch.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The ledger's audit trail.  Example: forgetflow events --request req-000001"""
    from components import ledger as ledgers

    ws = workspaces.resolve(workspace)
    with ledgers.Ledger(ws.ledger_path) as book:
        wanted = request_id or batch_id
        if request_id:
            book.request(request_id)
        if batch_id:
            book.batch(batch_id)
        rows = book.events(wanted)
    if as_json:
        _emit(rows)
        return
    table = Table("#", "at", "entity", "id", "event", "detail")
    for e in rows:
        table.add_row(str(e["seq"]), e["at"], e["entity"], e["entity_id"], e["event"], json.dumps(e["detail"])[:90])
    console.print(table)


@command()
def reject(
    batch_id: Annotated[str, typer.Argument(help="A needs_review batch.")],
    workspace: WorkspaceOpt = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger and on the version).")] = "",
) -> None:
    """Refuse a needs_review batch: its requests go back to pending.  Example: forgetflow reject batch-000002 --reason "grids look wrong" """
    from flows.transaction import reject as run_reject

    ws, params = _open(workspace)
    batch = run_reject(ws, params, batch_id, reason)
    console.print(
        f"{batch.id}: rejected; requests {', '.join(batch.request_ids)} are pending again (or failed after "
        f"{params.batch.max_attempts} attempts)"
    )


@command()
def audit(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Re-hash data/, verify the ledger's hash chain, read the weights behind every alias.  Example: forgetflow audit"""
    from dataclasses import asdict

    from flows.compliance.audit import run as run_audit

    ws, params = _open(workspace)
    findings = run_audit(ws, params)
    if as_json:
        _emit([asdict(f) for f in findings])
    else:
        for f in findings:
            console.print(
                f"{'[green]ok[/]    ' if f.ok else '[bold red]FAILED[/]'} {f.part}: {f.detail}", highlight=False, soft_wrap=True
            )
    failed = [f.part for f in findings if not f.ok]
    if failed:
        raise ForgetflowError(f"audit failed: {', '.join(failed)}")


@command()
def reindex(workspace: WorkspaceOpt = None) -> None:
    """Rebuild the lineage index from the MLflow registry and DVC data versions.  Example: forgetflow reindex"""
    from components import registry
    from flows.compliance import index

    ws, params = _open(workspace)
    client = registry.connect(ws.root, params.registry.experiment)
    count = index.reindex(ws, client, [params.registry.model_name, params.registry.conv_ae_model_name])
    console.print(f"indexed {count} model versions")


@command()
def checkout(
    rev: Annotated[str, typer.Argument(help="git revision whose data.dvc to restore.")], workspace: WorkspaceOpt = None
) -> None:
    """Restore data/ at a git revision (refused for versions a purge removed).  Example: forgetflow checkout HEAD"""
    from flows.compliance.purge import checkout_data

    ws = workspaces.resolve(workspace)
    console.print(f"data/ restored to {checkout_data(ws, rev)}")


if __name__ == "__main__":
    app()
