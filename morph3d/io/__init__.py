"""Reading and writing what the world hands us (layer 2): images, videos, annotation files,
annotated datasets, and synthetic test videos made from a photo.
"""

from __future__ import annotations

from morph3d._lazy import lazy_exports

# -- exports (every name in the modules' __all__) --
__all__ = [
    "AnnotatedFace",
    "ChannelOrder",
    "DatasetFormat",
    "DlibFace",
    "DlibImage",
    "Failure",
    "Frame",
    "MatAnnotation",
    "VideoReader",
    "VideoWriter",
    "as_rgb",
    "crop_image",
    "crops_to_input",
    "degrade",
    "find_faces",
    "is_video",
    "lissajous_path",
    "moving_frames",
    "photo_name",
    "read_dlib_xml",
    "read_image",
    "read_mat",
    "read_pts",
    "sample_colors",
    "split_indices",
    "still_frames",
    "write_image",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "AnnotatedFace": "datasets",
        "ChannelOrder": "image",
        "DatasetFormat": "datasets",
        "DlibFace": "annotations",
        "DlibImage": "annotations",
        "Failure": "datasets",
        "Frame": "video",
        "MatAnnotation": "annotations",
        "VideoReader": "video",
        "VideoWriter": "video",
        "as_rgb": "image",
        "crop_image": "image",
        "crops_to_input": "image",
        "degrade": "synthetic",
        "find_faces": "datasets",
        "is_video": "video",
        "lissajous_path": "synthetic",
        "moving_frames": "synthetic",
        "photo_name": "datasets",
        "read_dlib_xml": "annotations",
        "read_image": "image",
        "read_mat": "annotations",
        "read_pts": "annotations",
        "sample_colors": "image",
        "split_indices": "datasets",
        "still_frames": "synthetic",
        "write_image": "image",
    },
)
