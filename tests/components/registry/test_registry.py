import numpy as np
import pytest
import torch
from mlflow import MlflowClient

from components import registry
from components.errors import RegistryError
from components.models import checkpoint
from components.models.masking import centre_mask
from tests.conftest import TINY_MAE

pytestmark = pytest.mark.integration


@pytest.fixture
def registered(tmp_path, tiny_mae):
    client = registry.connect(tmp_path, "test")
    checkpoint.save(tiny_mae, tmp_path / "m.pt")
    record = registry.TrainingRecord(
        run_name="unit",
        checkpoint=tmp_path / "m.pt",
        params={"lr": 0.1},
        metrics={"psnr_centre": 12.5},
        version_tags={"stage": "base", "data_dvc_md5": "abc.dir"},
        epoch_losses=[0.3, 0.2],
    )
    version = registry.log_and_register(record, "tiny")
    registry.move_alias(client, "tiny", "champion", version.version, "unit test")
    return client, version


def test_register_sets_version_tags_alias_and_run_history(registered, tmp_path):
    client, version = registered
    uri = registry.tracking_uri(tmp_path)
    fresh = MlflowClient(uri, uri)  # read back with MLflow's own client
    mv = fresh.get_model_version_by_alias("tiny", "champion")
    assert int(mv.version) == 1 and mv.tags["stage"] == "base" and mv.tags["alias.champion.reason"] == "unit test"
    assert [m.value for m in fresh.get_metric_history(version.run_id, "train_loss")] == [0.3, 0.2]
    assert fresh.get_run(version.run_id).data.params["lr"] == "0.1"
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and any((tmp_path / "mlruns" / "artifacts").iterdir())


def test_champion_loads_as_the_same_module_and_as_a_pyfunc(registered, tiny_mae):
    import mlflow

    x = torch.rand(2, 1, 32, 32)
    mask = centre_mask(32, 16, 2)
    loaded = registry.load_inpainter("tiny", "champion")
    assert loaded.config == TINY_MAE and torch.allclose(loaded.inpaint(x, mask), tiny_mae.eval().inpaint(x, mask))
    pyfunc = mlflow.pyfunc.load_model("models:/tiny@champion")
    out = pyfunc.predict(x.numpy(), params={"mask": "centre", "extent": 16})
    assert out.shape == (2, 1, 32, 32) and np.allclose(out, tiny_mae.inpaint(x, mask).numpy(), atol=1e-6)


def test_resolve_version_accepts_numbers_and_aliases_and_names_what_is_missing(registered):
    client, _ = registered
    assert registry.resolve_version(client, "tiny", "champion") == 1
    assert registry.resolve_version(client, "tiny", "1") == 1
    with pytest.raises(RegistryError, match="no version or alias 'challenger'"):
        registry.resolve_version(client, "tiny", "challenger")
