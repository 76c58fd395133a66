from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.errors import WorkspaceError
from flows.params import ParamsError, load_params
from flows.workspace import dvc_yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["params.yaml", "prefect.yaml"])
def test_the_repo_root_files_are_the_templates_that_init_writes(name):
    assert (ROOT / name).read_text() == (ROOT / "flows" / "templates" / name).read_text()


def test_the_template_params_load():
    assert load_params(ROOT / "flows" / "templates" / "params.yaml").registry.model_name == "forgetflow-mae"


def test_the_shipped_retrain_oracle_uses_the_base_recipe():
    params = load_params(ROOT / "params.yaml")
    u, t = params.unlearn, params.train
    assert (u.retrain_epochs, u.retrain_lr, u.retrain_batch_size, u.retrain_weight_decay, u.retrain_warmup_epochs) == \
        (t.epochs, t.lr, t.batch_size, t.weight_decay, t.warmup_epochs) and t.cosine


def test_the_repo_root_pipeline_is_the_generated_one_with_code_deps():
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for stage in stages.values():  # a purge freezes the stages whose checkpoints it stubbed
        stage.pop("frozen", None)
    assert stages == yaml.safe_load(dvc_yaml(code_deps=True))["stages"]


def shipped_with(path: Path, section: str, key: str, value=None, drop: bool = False) -> Path:
    """The shipped params.yaml with one key changed (or dropped, or added)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if drop:
        del params[section][key]
    else:
        params.setdefault(section, {})[key] = value
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.parametrize("section, key, value, message", [
    ("train", "epochz", 3, r"unknown key\(s\) \['epochz'\] in section 'train'"),
    ("unlearn", "max_retain_drift", 0.1, "unlearn.max_retain_drift is now unlearn.max_retain_drop_pct"),  # an older workspace
    ("gates", "class_accuracy_slack", 0.05, "gates.class_accuracy_slack was removed: .* delete the line"),  # says why
    ("gates", "on_inconclusive", "ignore", "on_inconclusive must be one of"),
    ("trian", "epochs", 3, "unknown section"),
    ("train", "epochs", "many", "train.epochs must be int, not str"),
    ("batch", "purge", "sometimes", "bad value in section 'batch': purge must be one of"),
    ("evaluate", "reference_bank", 0, "reference_bank must be >= 10"),  # the class gates' reference averages 10 neighbours
    ("train", "epochs", 2.5, "train.epochs must be int, not float"),  # nothing is coerced
    ("train", "epochs", True, "train.epochs must be int, not bool"),
    ("train", "lr", "0.1", "train.lr must be float, not str"),
    ("registry", "challenger_serves", 1, "registry.challenger_serves must be bool"),
])
def test_load_params_names_the_key_and_why(tmp_path, section, key, value, message):
    with pytest.raises(ParamsError, match=message):
        load_params(shipped_with(tmp_path / "params.yaml", section, key, value))


def test_a_deleted_line_is_an_error_not_a_silent_default(tmp_path):
    """The dataclass defaults describe older models (they load old checkpoints): params.yaml must say everything."""
    with pytest.raises(ParamsError, match=r"section 'mae' lacks \['mlp_ratio'\].*flows/templates/params.yaml"):
        load_params(shipped_with(tmp_path / "params.yaml", "mae", "mlp_ratio", drop=True))


def test_an_int_where_a_float_is_expected_is_exact_and_accepted(tmp_path):
    assert load_params(shipped_with(tmp_path / "params.yaml", "train", "lr", 1)).train.lr == 1.0
    with pytest.raises(WorkspaceError, match="not found"):
        load_params(tmp_path / "absent.yaml")


YAML_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=6)


@st.composite
def mutated_params(draw) -> str:
    """The shipped params.yaml with one thing broken: a value, a key, a section, or the whole text."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    section = draw(st.sampled_from(sorted(params)))
    how = draw(st.sampled_from(["value", "key", "section", "text"]))
    if how == "value":
        params[section][draw(st.sampled_from(sorted(params[section])))] = draw(YAML_VALUES)
    elif how == "key":
        params[section][draw(st.text(max_size=12))] = draw(YAML_VALUES)
    elif how == "section":
        params[section] = draw(YAML_VALUES)
    else:
        return draw(st.text(max_size=200))
    return yaml.safe_dump(params, allow_unicode=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated_params())
def test_any_params_file_loads_or_is_refused_in_one_line(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_params(path)
    except ParamsError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


def test_a_broken_params_file_is_bad_input_with_one_line_and_no_write(tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app
    from flows.workspace import init

    ws = init(tmp_path / "ws")
    (ws.root / "params.yaml").write_text("train: [1, 2]\n")
    before = sorted(p.relative_to(ws.root) for p in ws.root.rglob("*"))
    result = CliRunner().invoke(app, ["request", "--sample", "fm-train-000001", "-w", str(ws.root)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "section 'train' must be a mapping" in result.output
    assert sorted(p.relative_to(ws.root) for p in ws.root.rglob("*")) == before
