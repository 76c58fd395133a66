"""The fault matrix beyond a Python exception: a fault the environment makes (DVC's lock held by
another process, a full disk) hits a batch; the batch fails cleanly, the invariant checker
(flows/invariants.py) holds, and the next run forgets the same requests. Exceptions after every
step and SIGKILLs are in test_deletion_batch.py, which runs the same checker."""

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components import ledger as ledgers
from components.locations import relocate
from flows import batch_steps, invariants
from flows.params import load_params
from flows.transaction import run as run_batch
from flows.workspace import resolve
from tests.conftest import write_params
from tests.flows.conftest import file_requests, processes_of

pytestmark = pytest.mark.integration

HOLD_DVC_LOCK = (
    "import sys, time\nfrom dvc.repo import Repo\nrepo = Repo(sys.argv[1])\nrepo.lock.lock()\n"
    "print('locked', flush=True)\ntime.sleep(600)\n"
)


def statuses(ws) -> set[str]:
    with ledgers.Ledger(ws.ledger_path) as book:
        return {r.status for r in book.requests()}


def test_dvc_lock_held_by_another_process_fails_the_batch_cleanly_and_the_next_run_recovers(trained):
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_DVC_LOCK, str(ws.root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        outcome = run_batch(ws, params)
    finally:
        holder.kill()
        holder.wait()

    assert outcome.status == "failed" and "lock" in outcome.error.lower()
    assert invariants.check(ws, params) == [] and statuses(ws) == {"pending"}
    assert run_batch(ws, params).status == "promoted"
    assert invariants.check(ws, params) == [] and statuses(ws) == {"done"}


@pytest.fixture
def small_disk(tmp_path):
    """A 256 MiB tmpfs of the test's own (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mount)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a size-limited filesystem here ({done.stderr.strip() or done.returncode}): "
            "the disk-full fault is not exercised"
        )
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write until the filesystem says ENOSPC; the file is what an operator deletes to recover."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


@pytest.mark.parametrize("step", ["register", "commit_data"])
def test_a_full_disk_fails_the_batch_and_after_space_is_freed_the_next_run_recovers(trained, small_disk, monkeypatch, step):
    shutil.copytree(trained.root, small_disk / "ws", symlinks=True)  # the workspace on the small disk (copy + relocate)
    relocate(small_disk / "ws")
    ws = resolve(small_disk / "ws")
    params = load_params(ws.params_file)
    file_requests(ws)
    real, filled = getattr(batch_steps, step), []

    def fill_then_run(*args, **kwargs):
        filled.append(fill(small_disk))
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_steps, step, fill_then_run)
    try:
        outcome = run_batch(ws, params)
    except Exception as exc:
        outcome = exc  # the batch stays `running`, and the next run resumes (and undoes) it
    filled[0].unlink()  # the operator frees space
    monkeypatch.setattr(batch_steps, step, real)

    assert "full" in str(outcome) or (outcome.status == "failed" and "No space left" in outcome.error), outcome
    recovered = run_batch(ws, params)
    assert recovered.status == "promoted", recovered.error
    assert invariants.check(ws, params) == [] and statuses(ws) == {"done"}


def test_the_invariant_checker_catches_each_broken_invariant(trained):
    """Its positive controls: each damage alone is named, and undoing it makes the checker pass again."""
    import sqlite3

    from components.ledger import provenance

    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    with ledgers.Ledger(ws.ledger_path) as book:
        weights = ws.root / provenance.artifacts(book)[provenance.version_id("forgetflow-mae", 1)].weights_path

    def sql(statement: str) -> None:
        db = sqlite3.connect(ws.ledger_path)
        db.execute(statement)
        db.commit()
        db.close()

    stray, aside, data_dvc = ws.data_dir / "stray.png", weights.with_name("aside"), ws.data_dvc.read_text()
    damages = [
        (lambda: sql("UPDATE aliases SET version = 9"), lambda: sql("UPDATE aliases SET version = 1"), "ledger mirrors aliases"),
        (lambda: stray.write_bytes(b"x"), stray.unlink, "data/ differs from data.dvc"),
        (
            lambda: sql("UPDATE requests SET status = 'processing' WHERE id = 'req-000001'"),
            lambda: sql("UPDATE requests SET status = 'pending' WHERE id = 'req-000001'"),
            "req-000001 is processing",
        ),
        (lambda: weights.rename(aside), lambda: aside.rename(weights), "forgetflow-mae@champion v1: weights missing"),
        (lambda: ws.data_dvc.write_text(data_dvc + "\n"), lambda: ws.data_dvc.write_text(data_dvc), "uncommitted changes"),
    ]
    assert invariants.check(ws, params) == []
    for damage, repair, named in damages:
        damage()
        found = invariants.check(ws, params)
        assert len(found) == 1 and named in found[0], found
        repair()
        assert invariants.check(ws, params) == []
    sql("UPDATE events SET detail = '{}' WHERE seq = 3")
    assert [p for p in invariants.check(ws, params) if p.startswith("ledger: event #3")]


def test_a_checkpoint_corrupted_after_evaluation_is_never_registered(trained, monkeypatch):
    """What the gates measured is what the registry gets: a checkpoint changed between evaluate and
    register (a bad disk, a stray write) fails the batch at register, and the next run recovers."""
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    real = batch_steps.evaluate

    def evaluate_then_corrupt(ws_, params_, batch_id, checkpoint):
        out = real(ws_, params_, batch_id, checkpoint)
        checkpoint.write_bytes(checkpoint.read_bytes()[:-64] + b"\0" * 64)
        return out

    monkeypatch.setattr(batch_steps, "evaluate", evaluate_then_corrupt)
    outcome = run_batch(ws, params)
    monkeypatch.setattr(batch_steps, "evaluate", real)

    assert outcome.status == "failed" and "changed since it was unlearned and evaluated" in outcome.error
    assert invariants.check(ws, params) == [] and statuses(ws) == {"pending"}
    assert run_batch(ws, params).status == "promoted"
    assert invariants.check(ws, params) == [] and statuses(ws) == {"done"}


def test_the_prefect_api_going_away_mid_batch_and_the_next_run_recovers(trained, cli_env):
    """`forgetflow run` starts a Prefect server of its own; it is killed while unlearn runs. The batch
    still settles (the ledger, registry and data do not need Prefect), and the next run finds
    everything consistent. The process itself then spends 96-120 s draining Prefect's log and event
    queues against the dead API at exit (measured, docs/batches.md); the test does not wait for that."""
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    write_params(
        ws.root,
        {
            "unlearn": {
                "budget": {"min_steps": 30, "max_steps": 30},
                "stopping": {"stop_plateau": -1e9, "stop_gap": 0.0, "max_retain_drop_pct": 1e9},
            }
        },
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "-w", str(ws.root)],
        env=cli_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_step(ws, run, "validate"), "the run ended before its Prefect API could be taken away"
        servers = processes_of(ws.root)
        assert servers
        for pid in servers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed = time.time()
        while time.time() - killed < 120 and run.poll() is None:
            with ledgers.Ledger(ws.ledger_path) as book:
                if book.running_batch() is None:
                    break
            time.sleep(0.5)
        settled = time.time() - killed
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)  # an operator's kill of the draining process: nothing may depend on it
        run.wait()
    assert settled < 60, "the batch did not settle after its Prefect API died"

    write_params(ws.root, {"unlearn": {"budget": {"min_steps": 2, "max_steps": 2}}})
    recovered = run_batch(ws, load_params(ws.params_file))  # resumes the batch if it was cut short; else idle
    assert recovered.status in ("promoted", "idle"), recovered.error
    assert invariants.check(ws, params) == [] and statuses(ws) == {"done"}
    assert not processes_of(ws.root)


def wait_for_step(ws, run: subprocess.Popen, step: str, timeout: float = 240) -> bool:
    """Until the running batch has finished `step` (True), or the run ended first (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline and run.poll() is None:
        with ledgers.Ledger(ws.ledger_path) as book:
            batch = book.running_batch()
        if batch is not None and batch.step == step:
            return True
        time.sleep(0.5)
    return False
