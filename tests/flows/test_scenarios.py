"""The demo's scenarios: `memorise` writes its data keys once, into a workspace of its own, and asks
to forget a duplicated subject."""

import pytest

from components.data import read_manifest
from components.errors import BadInputError
from flows import scenarios, workspace
from flows.params import load_params
from flows.prepare import prepare


def test_memorise_writes_its_data_keys_keeping_the_comments(tiny_workspace):
    ws = workspace.resolve(tiny_workspace)
    before = ws.params_file.read_text()
    params = scenarios.apply(ws, load_params(ws.params_file), "memorise", has_champion=False)
    assert (params.data.duplicate_subjects, params.data.duplicate_copies) == tuple(scenarios.MEMORISE.values())
    after = ws.params_file.read_text()
    assert after.count("#") == before.count("#") and len(after.splitlines()) == len(before.splitlines())
    assert scenarios.apply(ws, params, "memorise", has_champion=True) == params  # set already: nothing to do


def test_memorise_refuses_a_workspace_whose_base_saw_no_duplicates_and_writes_nothing(tiny_workspace):
    ws = workspace.resolve(tiny_workspace)
    before = ws.params_file.read_text()
    with pytest.raises(BadInputError, match="needs a workspace of its own: forgetflow init DIR"):
        scenarios.apply(ws, load_params(ws.params_file), "memorise", has_champion=True)
    with pytest.raises(BadInputError, match="unknown scenario 'nope'"):
        scenarios.apply(ws, load_params(ws.params_file), "nope", has_champion=False)
    assert ws.params_file.read_text() == before


def test_memorise_asks_to_forget_a_subject_whose_images_recur(tiny_workspace):
    ws = workspace.resolve(tiny_workspace)
    params = scenarios.apply(ws, load_params(ws.params_file), "memorise", has_champion=False)
    prepare(ws, params)
    manifest = read_manifest(ws.data_dir)
    ((kind, subjects, _),) = scenarios.requests(manifest, "memorise")
    duplicated = {s.subject_id for s in manifest if "-copy" in s.sample_id}
    assert kind == "subject" and set(subjects) == duplicated and len(duplicated) == scenarios.MEMORISE["duplicate_subjects"]
    assert [kind for kind, _, _ in scenarios.requests(manifest, "default")] == ["label", "subject", "sample"]
