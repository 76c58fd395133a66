from dataclasses import MISSING, fields, replace
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.errors import WorkspaceError
from components.unlearning import retrain
from components.unlearning.config import UnlearnConfig
from flows.params import RETRAIN_FROM_TRAIN, UNLEARN_LAYOUT, ParamsError, load_params
from flows.workspace import dvc_yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["params.yaml", "prefect.yaml"])
def test_the_repo_root_files_are_the_templates_that_init_writes(name):
    assert (ROOT / name).read_text() == (ROOT / "flows" / "templates" / name).read_text()


def test_the_template_params_load():
    assert load_params(ROOT / "flows" / "templates" / "params.yaml").registry.model_name == "forgetflow-mae"


def test_every_config_default_is_the_shipped_value():
    """A config built in code (tests, benchmarks) describes what params.yaml runs; FitConfig has no defaults."""
    params = load_params(ROOT / "params.yaml")
    checked = []
    for section in fields(params):
        config = getattr(params, section.name)
        for f in fields(config):
            if f.default is not MISSING:
                assert getattr(config, f.name) == f.default, f"{section.name}: {f.name} defaults to {f.default!r}"
                checked.append(f"{section.name}.{f.name}")
    assert len(checked) > 60 and "mae.pos_embed" in checked and "unlearn.decouple_max_steps" in checked


def test_every_unlearn_field_has_one_place_in_params_yaml_or_comes_from_train():
    def leaves(layout):
        return [x for v in layout.values() for x in (leaves(v) if isinstance(v, dict) else [v])]

    placed = leaves(UNLEARN_LAYOUT) + list(RETRAIN_FROM_TRAIN)
    assert sorted(placed) == sorted(f.name for f in fields(UnlearnConfig))


@pytest.mark.parametrize(
    "train",
    [
        {},
        {"epochs": 3, "lr": 0.01, "batch_size": 8, "weight_decay": 0.0, "warmup_epochs": 0.0, "grad_clip": 1.0, "cosine": False},
    ],
)
def test_the_retrain_oracle_recipe_is_the_train_section(tmp_path, train):
    """Structural: `unlearn:` has no retrain keys; whatever `train:` says, the oracle trains with it."""
    path = tmp_path / "params.yaml"
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"].update(train)
    path.write_text(yaml.safe_dump(raw))
    params = load_params(path)
    assert retrain.recipe(params.unlearn) == replace(params.train, seed=params.unlearn.seed)


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


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("train", "epochz", 3, r"unknown key\(s\) \['epochz'\] in section 'train'"),
        ("unlearn", "max_retain_drift", 0.1, "unlearn.max_retain_drift is now unlearn.stopping.max_retain_drop_pct"),  # older
        ("unlearn", "max_steps", 400, r"\['max_steps'\] in section 'unlearn'; unlearn.max_steps is now unlearn.budget.max_steps"),
        ("unlearn", "decouple_threshold", 1.0, "unlearn.decouple_threshold is now unlearn.decoupling.threshold"),
        ("unlearn", "retrain_lr", 0.002, "unlearn.retrain_lr was removed: the retrain oracle trains with the `train:` recipe"),
        ("unlearn", "budget", 400, "section 'unlearn.budget' must be a mapping of keys to values, not int"),
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
    ],
)
def test_load_params_names_the_key_and_why(tmp_path, section, key, value, message):
    with pytest.raises(ParamsError, match=message):
        load_params(shipped_with(tmp_path / "params.yaml", section, key, value))


def test_a_deleted_line_is_an_error_not_a_silent_default(tmp_path):
    """A workspace's params.yaml is its record: it must say everything, although the defaults equal the shipped values."""
    with pytest.raises(ParamsError, match=r"section 'mae' lacks \['mlp_ratio'\].*; the shipped values: mlp_ratio: 2.0 "):
        load_params(shipped_with(tmp_path / "params.yaml", "mae", "mlp_ratio", drop=True))
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    del raw["unlearn"]["stopping"]["patience"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=r"section 'unlearn.stopping' lacks \['patience'\].*; the shipped values: patience: 3 "):
        load_params(tmp_path / "params.yaml")


def test_an_older_flat_unlearn_section_is_refused_in_one_line_saying_where_each_key_went(tmp_path):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["unlearn"] = {
        "method": "encoder-noise",
        "alpha": 0.05,
        "retain_samples": 1000,
        "seed": 0,
        "blr": 0.004,
        "max_steps": 400,
        "decouple_max_steps": 300,
        "retrain_epochs": 16,
        "retrain_lr": 0.002,
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError) as refused:
        load_params(tmp_path / "params.yaml")
    message = str(refused.value)
    assert "\n" not in message
    for hint in (
        "unlearn.blr is now unlearn.optimizer.blr",
        "unlearn.max_steps is now unlearn.budget.max_steps",
        "unlearn.decouple_max_steps is now unlearn.decoupling.max_steps",
        "unlearn.retrain_epochs, unlearn.retrain_lr were removed: the retrain oracle trains with the `train:` recipe",
    ):
        assert hint in message


def test_an_int_where_a_float_is_expected_is_exact_and_accepted(tmp_path):
    assert load_params(shipped_with(tmp_path / "params.yaml", "train", "lr", 1)).train.lr == 1.0
    with pytest.raises(WorkspaceError, match="not found"):
        load_params(tmp_path / "absent.yaml")


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated_params(draw) -> str:
    """The shipped params.yaml with one thing broken: a value, a key, a section, or the whole text."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    section = draw(st.sampled_from(sorted(params)))
    how = draw(st.sampled_from(["value", "key", "section", "text"]))
    if how == "value":
        where = params[section]
        key = draw(st.sampled_from(sorted(where)))
        if isinstance(where[key], dict) and draw(st.booleans()):  # a key of a sub-section (unlearn.budget.max_steps)
            where, key = where[key], draw(st.sampled_from(sorted(where[key])))
        where[key] = draw(YAML_VALUES)
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


def test_the_feature_net_trains_on_at_most_max_per_class_images_of_each_class_spread_over_it():
    from components.data import Sample
    from flows.train_base import featurenet_subset

    samples = [Sample(f"fm-train-{i:06d}", f"subj-{i:06d}", i % 3, f"c{i % 3}", "train", "", "") for i in range(30)]
    capped = featurenet_subset(samples, 4)
    by_label = {label: [s.sample_id for s in capped if s.label == label] for label in range(3)}
    assert {label: len(ids) for label, ids in by_label.items()} == {0: 4, 1: 4, 2: 4}
    assert by_label[0] == ["fm-train-000000", "fm-train-000006", "fm-train-000015", "fm-train-000021"]  # spread, not the first 4
    assert featurenet_subset(samples, 0) == samples == featurenet_subset(samples, 10)
