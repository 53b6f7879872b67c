"""The 68-point landmark scheme (300W / Multi-PIE): its index groups, in one place.

Indices are 0-based. "Left" and "right" are the image's, for a face looking at the camera
(the subject's right eye is the image's left eye, points 36-41).

====================  =========  ====================================================
group                 indices    what
====================  =========  ====================================================
:data:`JAW`           0-16       jaw line, image left to right; 8 is the chin
:data:`BROWS`         17-26      brows, image left to right
:data:`NOSE`          27-35      bridge 27-30 (30 the tip), nostrils 31-35
:data:`EYES`          36-47      per eye: outer corner, two upper lid points, inner
                                 corner, two lower lid points (36-41 and 42-47)
:data:`MOUTH`         48-67      outer lips 48-59 (48 and 54 the corners), inner 60-67
====================  =========  ====================================================
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BROWS",
    "CHIN",
    "EYELIDS",
    "EYES",
    "EYE_APERTURE",
    "EYE_ORDER",
    "JAW",
    "MIRROR",
    "MOUTH",
    "NOSE",
    "NOSE_TIP",
    "RIGID",
]

JAW = tuple(range(0, 17))
CHIN = 8
BROWS = tuple(range(17, 27))
NOSE = tuple(range(27, 36))
NOSE_TIP = 30
EYES = tuple(range(36, 48))
MOUTH = tuple(range(48, 68))

#: Each eye in one canonical order: outer corner, upper outer, upper inner, inner corner, lower
#: inner, lower outer; the image-right eye listed as if mirrored, so both eyes read alike.
EYE_ORDER = ((36, 37, 38, 39, 40, 41), (45, 44, 43, 42, 47, 46))

#: The eyelid points (the eye corners excluded).
EYELIDS = (37, 38, 40, 41, 43, 44, 46, 47)

#: Per eye ``((corner, corner), ((upper, lower), ...))``: the points of the eye aspect ratio.
EYE_APERTURE = (
    ((36, 39), ((37, 41), (38, 40))),
    ((42, 45), ((43, 47), (44, 46))),
)

#: Points that expressions barely move: the nose (27-35) and the eye corners.
RIGID = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)

# fmt: off
#: Landmark k of a face is landmark ``MIRROR[k]`` of its mirror image.
MIRROR = np.array([
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,   # jaw
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                     # brows
    27, 28, 29, 30, 35, 34, 33, 32, 31,                         # nose
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,             # eyes
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,             # outer lips
    64, 63, 62, 61, 60, 67, 66, 65,                             # inner lips
])
# fmt: on
MIRROR.setflags(write=False)
