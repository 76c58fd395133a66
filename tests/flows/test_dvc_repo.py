"""flows/dvc_repo.py is the one place DVC is driven from; `commit_removal` writes a data version
through dvc_data internals. These specs fail loudly when an upgrade could have changed them."""

import importlib.metadata

import pytest

from flows import dvc_repo


@pytest.mark.parametrize("package", sorted(dvc_repo.VERIFIED))
def test_dvc_is_the_version_commit_removal_was_checked_against(package):
    installed = importlib.metadata.version(package)
    assert installed == dvc_repo.VERIFIED[package], (
        f"{package} {installed} is installed but commit_removal's use of its internals was checked against "
        f"{dvc_repo.VERIFIED[package]}: re-run tests/flows/test_deletion_batch.py (data commits agree with `dvc status`, a "
        "file changed outside the batch is refused) and then update dvc_repo.VERIFIED"
    )


def test_the_internals_commit_removal_uses_still_exist(tmp_path):
    from dvc.repo import Repo
    from dvc.stage import Stage
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.meta import Meta
    from dvc_data.hashfile.tree import Tree

    assert all(hasattr(Tree, name) for name in ("load", "add", "digest", "hash_info", "oid", "path", "fs"))
    assert HashInfo("md5", "0" * 32).value == "0" * 32 and Meta(isdir=True, size=1, nfiles=1).nfiles == 1
    assert hasattr(Stage, "dump")
    with Repo.init(tmp_path, no_scm=True) as repo:
        assert hasattr(repo.lock, "__enter__") and callable(repo.state.get_many)
        assert str(tmp_path) in repo.cache.local.oid_to_path("d41d8cd98f00b204e9800998ecf8427e")


def test_every_dvc_import_and_command_lives_in_dvc_repo():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    uses_dvc = re.compile(r'^\s*(from|import) dvc(_data|_objects)?[\s.]|\["dvc"', re.MULTILINE)
    offenders = [
        str(path.relative_to(root))
        for folder in ("flows", "components")
        for path in (root / folder).rglob("*.py")
        if path.name != "dvc_repo.py" and uses_dvc.search(path.read_text())
    ]
    assert offenders == [], offenders
