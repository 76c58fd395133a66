"""Deletion certificates: what was asked, what was removed, which models and aliases changed, what
the gates measured, what purge removed — citing hashes, never pixels — and a way to verify them.

Files are cited by path and sha256. Files git tracks are cited at the batch's tag
(`git:<tag>:<path>`), so a later batch does not invalidate an earlier certificate; a cited
checkpoint that a later purge removed verifies as "purged by <batch>" rather than as a mismatch.
"""

from __future__ import annotations

import hashlib
import html
import json
from datetime import UTC, datetime
from pathlib import Path

from components import ledger as ledgers
from components.data.forget_set import list_sha256
from components.errors import BadInputError
from components.evaluation.gates import verdict_of
from components.ledger import provenance
from flows import data_commit
from flows.params import Params
from flows.workspace import Workspace, git

FORMAT = "forgetflow-deletion-certificate/1"


def build(ws: Workspace, params: Params, batch_id: str) -> dict:
    with ledgers.Ledger(ws.ledger_path) as book:
        try:
            batch = book.batch(batch_id)
        except ledgers.LedgerError as exc:
            raise BadInputError(str(exc)) from None
        if batch.status == "running":
            raise BadInputError(f"{batch_id} is still running: a certificate is issued for a finished batch")
        requests = [book.request(r) for r in batch.request_ids]
        purge = [p for p in provenance.purges(book) if batch_id in p["batch_ids"]]
        artifacts = provenance.artifacts(book)
        artifact = artifacts.get(provenance.version_id(params.registry.model_name, batch.model_version or 0))
        pending = {a.id: a.purge_pending for a in artifacts.values() if a.purged_by == batch_id and a.purge_pending}
        trail = book.events(batch_id)
    scratch = ws.batch_dir(batch_id)
    removed = (scratch / "removed.txt").read_text().split() if (scratch / "removed.txt").is_file() else []
    evaluation = _json(scratch / "evaluation.json")
    tag = data_commit.tag_for(batch_id)
    tagged = git(ws.root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
    files = [
        f"{p}"
        for p in (scratch / "extract.json", scratch / "validation.json", scratch / "evaluation.json", scratch / "removed.txt")
        if p.is_file()
    ]
    cited = {_rel(ws, Path(f)): _sha(Path(f)) for f in files}
    if tagged:
        for name in ("data.dvc", "forgotten.csv", "models/unlearned.dvc"):
            content = _git_bytes(ws, f"{tag}:{name}")
            if content is not None:
                cited[f"git:{tag}:{name}"] = hashlib.sha256(content).hexdigest()
    if artifact and batch.status == "promoted":
        for rel in artifact.files:
            if (ws.root / rel).is_file():
                cited[rel] = _sha(ws.root / rel)
    return {
        "format": FORMAT,
        "issued_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "batch": {
            "id": batch.id,
            "status": batch.status,
            "method": batch.method,
            "created_at": batch.created_at,
            "finished_at": next((e["at"] for e in reversed(trail) if e["event"] in ("promoted", "needs_review")), None),
        },
        "requests": [
            {
                "id": r.id,
                "kind": r.kind,
                "selector": r.selector,
                "n_samples": len(r.sample_ids),
                "reason": r.reason,
                "filed_at": r.created_at,
                "due_at": r.due_at,
                "status": r.status,
            }
            for r in requests
        ],
        "forgotten": {"n_samples": len(removed), "ids_sha256": list_sha256(removed) if removed else None},
        "data_versions": {"before": batch.data_md5_before, "after": batch.data_md5_after},
        "model": {
            "name": params.registry.model_name,
            "parent_version": batch.parent_version,
            "version": batch.model_version,
            "aliases_before": batch.details.get("aliases_before"),
            "aliases_after": batch.details.get("aliases_after"),
        },
        "evaluation": {k: evaluation[k] for k in ("forget", "retain") if k in evaluation} if evaluation else None,
        "gates": {
            "passed": evaluation.get("gates_passed"),
            "promoted_inconclusive": evaluation.get("promoted_inconclusive", False),
            "checks": evaluation.get("gates"),
        }
        if evaluation
        else None,
        "purge": purge,
        "deletion_pending_on_server": pending,  # weights marked deleted on a tracking server, not yet collected there
        "git": {"tag": tag if tagged else None, "commit": tagged},
        "timings_s": batch.details.get("timings", {}),
        "files_sha256": cited,
        # the batch's newest event on the ledger's hash chain: its hash commits to the whole history up to it
        "ledger_head": f"{trail[-1]['seq']}:{trail[-1]['hash']}" if trail and trail[-1].get("hash") else None,
    }


def write(cert: dict, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".html", ".htm"):
        out.write_text(render_html(cert), encoding="utf-8")
    elif out.suffix.lower() == ".json":
        out.write_text(json.dumps(cert, indent=2, sort_keys=True) + "\n")
    else:
        raise BadInputError(f"{out}: write a certificate as .json or .html")
    return out


def verify(ws: Workspace, path: Path) -> list[str]:
    """Every cited hash against the workspace now, and the cited ledger head against the ledger's
    hash chain; returns the mismatches (empty = verified)."""
    try:
        cert = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path}: not a readable certificate ({exc})") from None
    if not isinstance(cert, dict) or cert.get("format") != FORMAT:
        raise BadInputError(f"{path}: not a forgetflow deletion certificate (format {FORMAT})")
    with ledgers.Ledger(ws.ledger_path) as book:
        purged = {f: a.purged_by for a in provenance.artifacts(book).values() if a.purged_by for f in a.files}
        unanchored = book.anchored(cert["ledger_head"]) if cert.get("ledger_head") else None
    problems = [f"ledger: {unanchored}"] if unanchored else []
    for cited, expected in sorted(cert.get("files_sha256", {}).items()):
        if cited.startswith("git:"):
            content = _git_bytes(ws, cited.removeprefix("git:"))
            actual = hashlib.sha256(content).hexdigest() if content is not None else None
        else:
            target = (ws.root / cited).resolve()
            if ws.root.resolve() not in target.parents:
                problems.append(f"{cited}: path outside the workspace")
                continue
            if not target.is_file() and cited in purged:
                continue  # removed on purpose by a later purge, recorded in the ledger
            actual = _sha(target) if target.is_file() else None
        if actual != expected:
            problems.append(f"{cited}: expected {expected[:16]}…, found {actual[:16] + '…' if actual else 'nothing'}")
    return problems


def render_html(cert: dict) -> str:
    """One self-contained page (no scripts, no images) a privacy officer can read and print."""
    e = html.escape
    rows = lambda pairs: "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in pairs)  # noqa: E731
    requests = "".join(
        f"<tr><td>{e(r['id'])}</td><td>{e(r['kind'])}</td><td>{e(', '.join(r['selector']))}</td>"
        f"<td>{r['n_samples']}</td><td>{e(r['reason'])}</td><td>{e(r['filed_at'])}</td><td>{e(r.get('due_at', ''))}</td></tr>"
        for r in cert["requests"]
    )
    gates = "".join(
        f"<li>{e(verdict_of(g).upper())} {e(g['name'])}: {e(g['detail'])}</li>" for g in (cert["gates"] or {}).get("checks") or []
    )
    purge = (
        "".join(
            f"<li>{e(p['at'])}: {p['cache_objects']} DVC cache objects ({p['cache_bytes']:,} bytes), "
            f"{p['remote_objects']} remote objects; weights of {e(', '.join(p['model_versions']) or 'no version')}</li>"
            for p in cert["purge"]
        )
        or "<li>not purged yet</li>"
    )
    purge += "".join(
        f"<li>deletion pending on server: weights of {e(k)} are marked deleted, not yet removed (needs {e(v)})</li>"
        for k, v in (cert.get("deletion_pending_on_server") or {}).items()
    )
    files = "".join(f"<tr><td><code>{e(k)}</code></td><td><code>{e(v)}</code></td></tr>" for k, v in cert["files_sha256"].items())
    b, m = cert["batch"], cert["model"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Deletion certificate {e(b["id"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.2em .5em;text-align:left}}code{{font-size:.85em}}</style></head>
<body><h1>Deletion certificate: {e(b["id"])}</h1>
<p>Issued {e(cert["issued_at"])}. Batch status <strong>{e(b["status"])}</strong>, method {e(b["method"])}.</p>
<h2>Requests</h2><table><tr><th>id</th><th>kind</th><th>selector</th><th>samples</th><th>reason</th><th>filed</th><th>due</th></tr>{
        requests
    }</table>
<h2>Forgotten data</h2><table>{
        rows(
            [
                ("samples", cert["forgotten"]["n_samples"]),
                ("sha256 of the sorted id list", cert["forgotten"]["ids_sha256"]),
                ("data version before", cert["data_versions"]["before"]),
                ("data version after", cert["data_versions"]["after"]),
            ]
        )
    }</table>
<h2>Model</h2><table>{
        rows(
            [
                ("registered model", m["name"]),
                ("parent version", m["parent_version"]),
                ("new version", m["version"]),
                ("aliases before", m["aliases_before"]),
                ("aliases after", m["aliases_after"]),
                ("git tag", cert["git"]["tag"]),
                ("git commit", cert["git"]["commit"]),
            ]
        )
    }</table>
<h2>Gates</h2><ul>{gates or "<li>no evaluation recorded</li>"}</ul>
<h2>Purge</h2><ul>{purge}</ul>
<h2>Cited files</h2><p>Ledger head (event:sha256): <code>{e(str(cert.get("ledger_head")))}</code>.
Verify with <code>forgetflow certificate --verify CERT.json</code>.</p>
<table><tr><th>file</th><th>sha256</th></tr>{files}</table></body></html>
"""


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rel(ws: Workspace, path: Path) -> str:
    return str(path.resolve().relative_to(ws.root.resolve()))


def _git_bytes(ws: Workspace, spec: str) -> bytes | None:
    import subprocess

    done = subprocess.run(["git", "show", spec], cwd=ws.root, capture_output=True, check=False)
    return done.stdout if done.returncode == 0 else None
