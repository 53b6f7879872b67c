"""scripts/gather_shuffles.py: copies with the shuffles as gathers, the sources never written."""

from __future__ import annotations

from pathlib import Path

import onnx

from ..conftest import load_script
from ..inference.test_shuffle import _shuffle_graph

gather_shuffles = load_script("scripts/gather_shuffles.py")


def test_copies_go_to_the_out_dir(tmp_path: Path, capsys) -> None:
    source = tmp_path / "net.onnx"
    onnx.save(_shuffle_graph(halves=True, quantized=True), str(source))
    before = source.read_bytes()
    assert gather_shuffles.main([str(source), "--out-dir", str(tmp_path / "out")]) == 0
    assert "1 shuffles as gathers, outputs identical" in capsys.readouterr().out
    assert source.read_bytes() == before
    copy = onnx.load(str(tmp_path / "out" / "net.onnx"))
    assert "Transpose" not in {node.op_type for node in copy.graph.node}


def test_refuses_to_overwrite_and_names_missing_files(tmp_path: Path, capsys) -> None:
    source = tmp_path / "net.onnx"
    onnx.save(_shuffle_graph(halves=False, quantized=False), str(source))
    before = source.read_bytes()
    assert gather_shuffles.main([str(source), "--out-dir", str(tmp_path)]) == 2
    assert "would overwrite its source" in capsys.readouterr().err
    assert source.read_bytes() == before
    assert gather_shuffles.main([str(tmp_path / "none.onnx"), "--out-dir", str(tmp_path)]) == 2
    assert "no file" in capsys.readouterr().err
