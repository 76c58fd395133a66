from pathlib import Path

import pytest

from components.errors import WorkspaceError
from flows.params import load_params
from flows.workspace import dvc_yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_repo_root_params_are_the_template_that_init_writes():
    template = ROOT / "flows" / "templates" / "params.yaml"
    assert (ROOT / "params.yaml").read_text() == template.read_text()
    assert load_params(template).registry.model_name == "forgetflow-mae"


def test_the_repo_root_pipeline_is_the_generated_one_with_code_deps():
    assert (ROOT / "dvc.yaml").read_text() == dvc_yaml(code_deps=True)


def test_load_params_rejects_unknown_keys_sections_and_bad_values(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  epochz: 3\n")
    with pytest.raises(WorkspaceError, match=r"unknown key\(s\) \['epochz'\] in section 'train'"):
        load_params(path)
    path.write_text("trian:\n  epochs: 3\n")
    with pytest.raises(WorkspaceError, match="unknown section"):
        load_params(path)
    path.write_text("train:\n  epochs: many\n")
    with pytest.raises(WorkspaceError, match="bad value"):
        load_params(path)
    with pytest.raises(WorkspaceError, match="not found"):
        load_params(tmp_path / "absent.yaml")
