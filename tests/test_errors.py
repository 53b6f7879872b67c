"""Errors, and the message of a feature whose optional extra is not installed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from morph3d.errors import EXTRAS, MissingExtraError, Morph3DError, naming_extras


def test_a_missing_extra_package_names_its_extra() -> None:
    with pytest.raises(MissingExtraError, match=r"pip install 'morph3d\[train\]'") as raised:
        with naming_extras():
            raise ModuleNotFoundError("No module named 'torch._C'", name="torch._C")
    assert isinstance(raised.value, Morph3DError) and isinstance(raised.value, ImportError)
    assert (raised.value.module, raised.value.extra) == ("torch", "train")
    assert EXTRAS["pyrender"] == "ar"


def test_other_import_errors_pass_through() -> None:
    with pytest.raises(ModuleNotFoundError) as raised:
        with naming_extras():
            raise ModuleNotFoundError("No module named 'nonexistent'", name="nonexistent")
    assert not isinstance(raised.value, MissingExtraError)


def _run_without(modules: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    blocker = "".join(f"sys.modules[{name!r}] = None\n" for name in modules)
    return subprocess.run(
        [sys.executable, "-c", f"import sys\n{blocker}{code}"], capture_output=True, text=True
    )


def test_training_without_torch_says_which_extra() -> None:
    done = _run_without(
        ("torch",),
        "from morph3d.errors import MissingExtraError\n"
        "try:\n    from morph3d.training import Trainer\n"
        "except MissingExtraError as error:\n    print(error)\n",
    )
    assert done.returncode == 0, done.stderr
    assert "torch is not installed" in done.stdout and "morph3d[train]" in done.stdout


def test_cli_without_torch_is_a_one_line_error(tmp_path) -> None:
    done = _run_without(
        ("torch",),
        "from morph3d.cli import main\n"
        f"sys.exit(main(['export', '--output', {str(tmp_path / 'x.onnx')!r}]))\n",
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("morph3d: error: torch is not installed")
    assert "Traceback" not in done.stderr and "morph3d[train]" in done.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_rendering_without_pyrender_says_which_extra() -> None:
    done = _run_without(
        ("pyrender",),
        "from morph3d.ar.opengl import load_pyrender\n"
        "from morph3d.errors import MissingExtraError\n"
        "try:\n    load_pyrender()\n"
        "except MissingExtraError as error:\n    print(error)\n",
    )
    assert done.returncode == 0, done.stderr
    assert "pyrender is not installed" in done.stdout and "morph3d[ar]" in done.stdout
