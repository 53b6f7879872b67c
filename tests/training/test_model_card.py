from __future__ import annotations

from morph3d.paths import DEFAULT_WEIGHTS
from morph3d.training.model_card import model_card, network_name
from morph3d.training.trainer import TrainConfig


def test_network_names_agree_with_paths() -> None:
    assert DEFAULT_WEIGHTS.startswith(network_name(1.0) + "_")  # shufflenetv2_x1_lp.pt
    assert network_name(0.5) == "shufflenetv2_x0_5" and network_name(1.5) == "shufflenetv2_x1_5"


def test_model_card_reports_the_best_epoch() -> None:
    history = [
        {"epoch": 1, "seconds": 60.0, "images_per_second": 100.0, "val_nme": 6.0},
        {"epoch": 2, "seconds": 60.0, "images_per_second": 120.0, "val_nme": 5.0},
        {"epoch": 3, "seconds": 60.0, "images_per_second": 110.0, "val_nme": 5.5},
    ]
    config = TrainConfig(width=0.5, epochs=3)
    card = model_card(
        config, history, targets="t.h5", train_faces=90, val_faces=10, elapsed=180.0,
        model_name="tiny",
    )  # fmt: skip
    assert card["weights"] == "shufflenetv2_x0_5.pt" and card["best_epoch"] == 2
    assert card["val_nme_bbox"] == 5.0 and card["epochs"] == 3
    assert card["train_minutes_total"] == 3.0 and card["images_per_second_median"] == 110.0
    assert card["world_size"] == 1  # rows without world_size: one process
    assert TrainConfig.from_dict(card["config"]) == config
