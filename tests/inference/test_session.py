"""The ONNX Runtime session factory and bad model files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from morph3d.errors import ModelFormatError, ModelNotFoundError
from morph3d.inference.session import create_session, physical_cores
from morph3d.inference.torch_predictor import load_regressor

pytestmark = pytest.mark.unit


def test_missing_and_corrupt_onnx_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="make it"):
        create_session(tmp_path / "missing.onnx", "make it")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model" * 50)
    with pytest.raises(ModelFormatError, match=r"junk\.onnx"):
        create_session(junk, "make it")
    assert physical_cores() >= 1


def test_bad_weight_files_are_model_format_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"random bytes, not a pickle")
    with pytest.raises(ModelFormatError, match=r"junk\.pt"):
        load_regressor(junk)
    wrong = tmp_path / "wrong.pt"
    torch.save({"some": torch.zeros(3)}, wrong)
    with pytest.raises(ModelFormatError, match="not a morph3d regressor"):
        load_regressor(wrong)


def test_single_blas_thread_limits_and_restores() -> None:
    from threadpoolctl import threadpool_info

    from morph3d.inference.session import single_blas_thread

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with single_blas_thread():
        assert blas_threads() and set(blas_threads()) == {1}
    assert blas_threads() == before
