"""The last step of a promoted batch: forgotten samples leave data/, DVC and git record it.

Written as a small journal so that it is safe to interrupt: the pointer files (data.dvc, the
unlearned-checkpoint .dvc, forgotten.csv, .gitignores) and the manifest are backed up and the
removed files are moved into the batch's trash before anything changes. `undo` puts it all back;
`is_committed` tells a resumed run that the data side already finished (marker file or git tag).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from components import data
from flows import dvc_repo
from flows.workspace import UNLEARNED_DIR, Workspace, commit, git, unlearned_paths

FORGOTTEN_COLUMNS = ("sample_id", "request_id", "batch_id")
CACHE_LISTING, PARTIAL = "cache_before.txt", "backup.partial"
POINTERS = ("data.dvc", "forgotten.csv", "models/unlearned.dvc", "models/.gitignore", ".gitignore", f"data/{data.MANIFEST_NAME}")


def tag_for(batch_id: str) -> str:
    return f"forget-{batch_id}"


def is_committed(ws: Workspace, batch_id: str) -> bool:
    return (ws.batch_dir(batch_id) / "committed.json").is_file() or (
        git(ws.root, "rev-parse", "-q", "--verify", f"refs/tags/{tag_for(batch_id)}") is not None
    )


def commit_data(
    ws: Workspace, batch_id: str, removed: list[str], tombstones: list[tuple[str, str]], checkpoint: Path, message: str
) -> str:
    """Remove `removed` from data/, add the batch's checkpoint to models/unlearned/, re-add both to
    DVC, commit + tag in git."""
    scratch = ws.batch_dir(batch_id)
    _back_up(ws, scratch / "backup")
    digest = json.loads(checkpoint.with_suffix(".json").read_text())["weights_sha256"]
    copies = [
        (checkpoint, ws.root / unlearned_paths(digest)[0]),
        (checkpoint.with_suffix(".json"), ws.root / unlearned_paths(digest)[1]),
    ]
    _write_whole(scratch / "copied.txt", "".join(f"{target}\n" for _, target in copies))  # journal first: undo removes them
    for source, target in copies:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    samples = data.read_manifest(ws.data_dir)
    gone = set(removed)
    for sample in samples:
        source = ws.data_dir / sample.relpath
        if sample.sample_id in gone and source.exists():
            (scratch / "trash" / sample.relpath).parent.mkdir(parents=True, exist_ok=True)
            source.rename(scratch / "trash" / sample.relpath)
    data.manifest.write_manifest(ws.data_dir, [s for s in samples if s.sample_id not in gone])
    _append_forgotten(ws.forgotten_file, tombstones, batch_id)
    # the new version is the old one minus the forgotten files (anything else on disk is not ours to commit)
    dvc_repo.commit_removal(ws, {s.relpath for s in samples if s.sample_id in gone}, {data.MANIFEST_NAME})
    dvc_repo.add(ws, [ws.root / UNLEARNED_DIR])
    tracked = [p for p in POINTERS if (ws.root / p).exists() and not p.startswith("data/")]
    if git(ws.root, "add", "--", *tracked) is not None:
        commit(ws.root, message, tag=tag_for(batch_id), paths=tracked)
    md5 = ws.data_version()
    (scratch / "committed.json").write_text(json.dumps({"data_md5": md5, "removed": len(gone)}) + "\n")
    return md5


def finalize(ws: Workspace, batch_id: str) -> None:
    """The batch is finished in the ledger: drop the journal (and the forgotten pixels in the trash)."""
    scratch = ws.batch_dir(batch_id)
    shutil.rmtree(scratch / "trash", ignore_errors=True)
    shutil.rmtree(scratch / "backup", ignore_errors=True)
    (scratch / "copied.txt").unlink(missing_ok=True)


def undo(ws: Workspace, batch_id: str) -> None:
    """Put data/, the manifest, the pointer files and git back as before `commit_data`.

    Only called before the ledger marks the batch finished; the batch's own commit and tag (if
    made) are dropped again with a soft reset, which touches nothing else in the work tree.
    """
    scratch = ws.batch_dir(batch_id)
    trash, backup = scratch / "trash", scratch / "backup"
    tag = tag_for(batch_id)
    tagged = git(ws.root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
    if tagged is not None:
        if tagged == git(ws.root, "rev-parse", "HEAD"):
            git(ws.root, "reset", "-q", "--soft", "HEAD~1")
        git(ws.root, "tag", "-d", tag)
    (scratch / "committed.json").unlink(missing_ok=True)
    if (scratch / "copied.txt").is_file():
        for line in (scratch / "copied.txt").read_text().split():
            Path(line).unlink(missing_ok=True)
        (scratch / "copied.txt").unlink()
    if trash.is_dir():
        for path in sorted(p for p in trash.rglob("*") if p.is_file()):
            target = ws.data_dir / path.relative_to(trash)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
        shutil.rmtree(trash)
    if backup.is_dir():
        for name in POINTERS:
            saved, target = backup / name, ws.root / name
            if saved.exists():
                shutil.copy2(saved, target)
            elif (backup / f"{name}.absent").exists():
                target.unlink(missing_ok=True)
        for name in POINTERS:  # one at a time: a pathspec git does not know must not stop the others
            git(ws.root, "reset", "-q", "--", name)
        # objects the undone `dvc add` cached (new listings, the checkpoint) go; journals written before
        # the listing moved into the backup kept it beside it
        listing = next((p for p in (backup / CACHE_LISTING, scratch / CACHE_LISTING) if p.is_file()), None)
        if listing is not None:
            cache = dvc_repo.cache_dir(ws)
            for rel in dvc_repo.cache_files(ws) - set(listing.read_text().split()):
                (cache / rel).unlink()
            listing.unlink()
        shutil.rmtree(backup)
    shutil.rmtree(backup.with_name(PARTIAL), ignore_errors=True)
    (scratch / "copied.txt.partial").unlink(missing_ok=True)


def read_forgotten(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    with path.open(newline="") as fh:
        return {row["sample_id"] for row in csv.DictReader(fh)}


def _back_up(ws: Workspace, backup: Path) -> None:
    """The pointers and the DVC cache listing as they were, written whole or not at all: built
    aside and renamed into place, so a crash or a full disk mid-way never leaves a partial backup
    that `undo` would trust (a short cache listing would make it delete objects older versions need)."""
    if backup.is_dir():  # a resumed commit keeps the first, pre-batch backup
        return
    staging = backup.with_name(PARTIAL)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / CACHE_LISTING).write_text("".join(f"{p}\n" for p in sorted(dvc_repo.cache_files(ws))))
    for name in POINTERS:
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ws.root / name).exists():
            shutil.copy2(ws.root / name, target)
        else:
            (staging / f"{name}.absent").touch()
    os.replace(staging, backup)


def _write_whole(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _append_forgotten(path: Path, tombstones: list[tuple[str, str]], batch_id: str) -> None:
    known = read_forgotten(path)
    fresh = not path.is_file()
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if fresh:
            writer.writerow(FORGOTTEN_COLUMNS)
        writer.writerows((sample, request, batch_id) for sample, request in sorted(tombstones) if sample not in known)
