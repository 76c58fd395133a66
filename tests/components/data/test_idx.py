import gzip

import numpy as np
import pytest

from components.data.idx import read_idx, write_idx
from components.errors import DataSourceError


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_round_trips_raw_and_gzip(tmp_path, name):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / name, array)
    assert np.array_equal(read_idx(tmp_path / name), array)


def test_read_idx_rejects_bad_magic(tmp_path):
    (tmp_path / "x").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataSourceError, match="bad magic"):
        read_idx(tmp_path / "x")


def test_read_idx_rejects_truncated_payload(tmp_path):
    write_idx(tmp_path / "x", np.zeros((3, 28, 28), np.uint8))
    (tmp_path / "x").write_bytes((tmp_path / "x").read_bytes()[:-10])
    with pytest.raises(DataSourceError, match="truncated or corrupt"):
        read_idx(tmp_path / "x")


def test_read_idx_rejects_truncated_gzip(tmp_path):
    payload = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x10" + bytes(16))
    (tmp_path / "x.gz").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DataSourceError, match="cannot decompress"):
        read_idx(tmp_path / "x.gz")


def test_read_idx_rejects_truncated_header(tmp_path):
    (tmp_path / "x").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataSourceError, match="truncated IDX header"):
        read_idx(tmp_path / "x")


def test_read_idx_reports_missing_file(tmp_path):
    with pytest.raises(DataSourceError, match="not found"):
        read_idx(tmp_path / "nope.gz")
