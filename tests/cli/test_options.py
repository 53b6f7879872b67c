from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass, field
from typing import Literal

import pytest

from morph3d.cli.options import add_config_options, config_from_args


@dataclass(frozen=True)
class Inner:
    """Inner settings.

    Attributes:
        rate: A rate in Hz.
    """

    rate: float = 1.0


@dataclass(frozen=True)
class Outer:
    """Outer settings.

    Attributes:
        mode: How.
        count: How many.
        on: Whether.
        inner: Nested.
    """

    mode: Literal["a", "b"] = "a"
    count: int = 3
    on: bool = True
    inner: Inner = field(default_factory=lambda: Inner(rate=2.0))


def parser(**options) -> argparse.ArgumentParser:
    out = argparse.ArgumentParser()
    add_config_options(out, Outer, **options)
    return out


def test_defaults_give_back_the_default_config() -> None:
    assert config_from_args(parser().parse_args([]), Outer) == Outer()


def test_every_field_is_an_option() -> None:
    args = parser().parse_args(["--mode", "b", "--count", "5", "--no-on", "--inner-rate", "4"])
    assert config_from_args(args, Outer) == Outer("b", 5, False, Inner(4.0))


def test_literals_are_choices_and_prefixes_and_aliases_apply(capsys) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--mode", "c"])
    assert "invalid choice" in capsys.readouterr().err
    custom = parser(prefix="x-", prefixes={"inner": "in-"}, aliases={"inner.rate": "--rate"})
    assert config_from_args(custom.parse_args(["--rate", "7"]), Outer).inner.rate == 7.0
    args = custom.parse_args(["--x-in-rate", "8", "--x-count", "1"])
    assert config_from_args(args, Outer) == Outer(count=1, inner=Inner(8.0))
    assert "A rate in Hz." in custom.format_help()


def test_tracker_options_keep_the_short_filter_names() -> None:
    from morph3d.cli import build_parser
    from morph3d.cli.options import tracker_config
    from morph3d.pipeline.tracker import TrackerConfig

    args = build_parser().parse_args(["track", "v.mp4", "-o", "o.mp4", "--beta", "10"])
    config = tracker_config(args)
    assert (
        config.filter.beta == 10.0 and config.filter.min_cutoff == TrackerConfig().filter.min_cutoff
    )


def test_command_errors_are_one_line_with_status_2(tmp_path, capsys) -> None:
    from morph3d.cli import main

    photo = tmp_path / "face.jpg"
    code = main(["reconstruct", str(photo), "-o", str(tmp_path / "out"), "--box", "1,2"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "--box must be x0,y0,x1,y1" in error
    assert "Traceback" not in error


def test_the_bench_command_is_gone(capsys) -> None:
    from morph3d.cli import main

    with pytest.raises(SystemExit) as raised:
        main(["bench"])
    assert raised.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_detector_size_reaches_the_detector_and_yunet_refuses_it(tmp_path, capsys) -> None:
    from morph3d.cli import build_parser, main
    from morph3d.cli.options import tracking_reconstructor
    from morph3d.pipeline.reconstructor import Reconstructor, ReconstructorConfig

    args = build_parser().parse_args(
        ["track", "v.mp4", "-o", "o.mp4", "--detector-size", "320X240"]
    )
    config = tracking_reconstructor(args)
    assert config.detector_size == (320, 240)
    with Reconstructor(config, blendshapes=False) as reconstructor:
        assert reconstructor.detector.input_size == (320, 240)
    with Reconstructor(detector="cascade", detector_size=(192, 144), blendshapes=False) as cascade:
        assert cascade.detector.primary.input_size == (192, 144)
    with pytest.raises(ValueError, match="YuNet"):
        ReconstructorConfig(detector="yunet", detector_size=(320, 240))
    photo = tmp_path / "face.jpg"
    for options, message in (
        (["--detector", "yunet", "--detector-size", "320x240"], "YuNet takes none"),
        (["--detector-size", "320"], "expected WxH"),
        (["--detector-size", "8x240"], "expected WxH"),
    ):
        with pytest.raises(SystemExit) if "WxH" in message else contextlib.nullcontext():
            code = main(["reconstruct", str(photo), "-o", str(tmp_path / "out"), *options])
            assert code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
