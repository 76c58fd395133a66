"""A copied workspace never touches the original: refused until `relocate`, then on its own files only.

MLflow's SQLite store keeps absolute artifact locations, so a `cp -a` copy used as is would log into
the original's artifact store and its purge would delete the original's champion weights."""

import shutil

import pytest
from typer.testing import CliRunner

from components import registry
from components.errors import WorkspaceError
from flows import invariants, workspace
from flows.cli import app
from flows.params import load_params
from flows.transaction import run as run_batch
from tests.flows.conftest import file_digests, file_requests

pytestmark = pytest.mark.integration


def test_a_copy_is_refused_until_relocated_then_forgets_without_touching_the_original(trained, tmp_path, own_prefect_env):
    original = trained
    copy = workspace.resolve(shutil.copytree(original.root, tmp_path / "copy", symlinks=True))  # as `cp -a` does
    before = file_digests(original.root)
    params = load_params(copy.params_file)
    file_requests(copy)

    with pytest.raises(WorkspaceError, match="copied or moved.*relocate"):
        run_batch(copy, params)
    for command in (["run"], ["purge"], ["rollback", "--reason", "test"]):  # every write is refused the same way
        refused = CliRunner().invoke(app, ["-w", str(copy.root), *command])
        assert refused.exit_code == 1 and "relocate" in refused.output, (command, refused.output)
    assert file_digests(original.root) == before

    relocated = CliRunner().invoke(app, ["-w", str(copy.root), "relocate"])
    assert relocated.exit_code == 0 and "re-rooted" in relocated.output, relocated.output
    outcome = run_batch(copy, params)  # promoted, then purged: the copy's base weights go, in the copy only
    assert outcome.status == "promoted", outcome.error
    back = CliRunner().invoke(app, ["-w", str(copy.root), "rollback", "--reason", "try"])  # v1 is tainted and purged
    assert back.exit_code == 1 and "previous-champion" in back.output, back.output
    assert file_digests(original.root) == before
    registry.connect(original.root, "forgetflow")  # the original still serves its champion from its own files
    assert registry.load_inpainter("forgetflow-mae", "champion") is not None
    assert "nothing to do" in CliRunner().invoke(app, ["-w", str(copy.root), "relocate"]).output
    assert invariants.check(copy, params) == []
    assert invariants.check(original, load_params(original.params_file)) == []  # its weights read back through MLflow
