"""The 1€ filter for noisy real-time signals.

Casiez, Roussel and Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter for Noisy Input in
Interactive Systems", CHI 2012. Each sample is low-passed with a first-order filter whose
smoothing factor follows from a cut-off frequency and the time since the previous sample::

    alpha(fc) = 1 / (1 + tau / Te),   tau = 1 / (2 pi fc)
    fc        = min_cutoff + beta * |dx/dt|

where the speed ``dx/dt`` is itself low-passed at ``d_cutoff``. Slow signals are smoothed hard
(``min_cutoff``, little jitter); fast ones get a higher cut-off (``beta``, little lag).

:class:`OneEuroFilter` filters whole arrays at once (every element its own filter). Speeds can be
divided by a ``scale`` (e.g. the face's size in pixels) so that ``beta`` does not depend on how big
the face is, and measured jointly over the last axis (the speed of a point rather than of each
coordinate). On ``(n, d)`` points with one scale, the step runs compiled when numba is installed
(:func:`morph3d.core.compiled.one_euro_points`, the same arithmetic in one loop: a tracked mesh
of 4,164 points is filtered every frame).

:class:`SettlingAverage` is for a quantity that should not change at all but is measured noisily
in every sample (a person's identity shape over a video): the mean of the samples so far, which
settles into an exponential average at a low cut-off so that a slow change still comes through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FilterConfig", "OneEuroFilter", "SettlingAverage", "smoothing_factor"]


def smoothing_factor(cutoff: np.ndarray | float, period: float) -> np.ndarray:
    """``alpha = 1 / (1 + tau / Te)`` with ``tau = 1 / (2 pi cutoff)`` and ``Te = period``."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / period)


def _period(value: np.ndarray, time: float, x: np.ndarray, timestamp: float) -> float:
    """Seconds from the last sample (``value`` at ``time``) to ``x`` at ``timestamp``, once
    ``x`` is checked to have the filter's shape."""
    if x.shape != value.shape:
        raise ValueError(f"sample shape {x.shape} differs from {value.shape}")
    return float(timestamp) - time


@dataclass(frozen=True)
class FilterConfig:
    """Parameters of the 1€ filter.

    Attributes:
        min_cutoff: Cut-off frequency (Hz) at rest: lower means steadier and slower.
        beta: Speed coefficient (Hz per unit of speed, speed in ``scale`` units per second):
            higher means less lag when moving.
        d_cutoff: Cut-off frequency (Hz) of the low-passed speed.
    """

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0:
            raise ValueError(f"cut-offs must be > 0 and beta >= 0, got {self}")


class OneEuroFilter:
    """A 1€ filter over arrays of a fixed shape, one filter per element.

    Args:
        config: Filter parameters.
        joint_axis: When true, the speed is the Euclidean norm over the last axis (one cut-off
            per point of an ``(..., n, d)`` array); otherwise every element has its own.

    The first sample passes unchanged. Timestamps must increase; a repeated timestamp returns
    the previous output.
    """

    def __init__(self, config: FilterConfig | None = None, joint_axis: bool = False) -> None:
        self.config = config or FilterConfig()
        self.joint_axis = joint_axis
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes unchanged."""
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time: float | None = None

    @property
    def value(self) -> np.ndarray | None:
        """The last output (``None`` before the first sample)."""
        return self._value

    def __call__(
        self, x: np.ndarray, timestamp: float, scale: np.ndarray | float = 1.0
    ) -> np.ndarray:
        """Filter one sample.

        Args:
            x: The new sample (same shape every call).
            timestamp: Its time in seconds.
            scale: Speeds are divided by this before ``beta`` applies (broadcast against the
                speed: ``x``'s shape, or without the last axis when ``joint_axis``).

        Returns:
            The filtered sample, float64, ``x``'s shape.
        """
        x = np.asarray(x, dtype=np.float64)
        if self._value is None or self._time is None or self._speed is None:
            self._value = x.copy()
            self._speed = np.zeros_like(x)
            self._time = float(timestamp)
            return self._value.copy()
        period = _period(self._value, self._time, x, timestamp)
        if period <= 0:
            return self._value.copy()
        config = self.config
        points = self.joint_axis and x.ndim == 2 and np.ndim(scale) == 0 and float(scale) > 0
        kernel = _points_kernel() if points else None  # a zero scale: numpy's infinite speed
        if kernel is not None:  # the same step compiled: one loop instead of a dozen passes
            kernel(self._value, self._speed, np.ascontiguousarray(x), period, float(scale),
                   config.min_cutoff, config.beta, config.d_cutoff)  # fmt: skip
            self._time = float(timestamp)
            return self._value.copy()
        # In place, on the state's own arrays: a mesh of 4,164 points is filtered every frame.
        change = x - self._value
        rate = float(smoothing_factor(config.d_cutoff, period))
        self._speed *= 1.0 - rate  # the speed's exponential average, toward change / period
        self._speed += (rate / period) * change
        if self.joint_axis:
            squared = np.einsum("...i,...i->...", self._speed, self._speed)
            magnitude = np.sqrt(squared)[..., None]
            magnitude /= np.expand_dims(np.asarray(scale, dtype=np.float64), -1)
        else:
            magnitude = np.abs(self._speed) / np.asarray(scale, dtype=np.float64)
        alpha = smoothing_factor(config.min_cutoff + config.beta * magnitude, period)
        change *= alpha
        self._value += change
        self._time = float(timestamp)
        return self._value.copy()


_KERNEL: list[Any] = []  # the compiled step of OneEuroFilter on points, looked up once


def _points_kernel() -> Any:
    """:func:`morph3d.core.compiled.one_euro_points`, or None without numba."""
    if not _KERNEL:
        try:
            from morph3d.core.compiled import one_euro_points
        except ImportError:
            _KERNEL.append(None)
        else:
            _KERNEL.append(one_euro_points)
    return _KERNEL[0]


class SettlingAverage:
    """The average of a nearly constant, noisily measured array.

    Sample ``n`` (from 1) moves the average toward itself by
    ``max(1 / n, alpha(cutoff))`` (:func:`smoothing_factor` over the time since the last
    sample): the plain mean of the samples at first, so the average converges as fast as the
    measurements allow, then an exponential average with time constant ``1 / (2 pi cutoff)``.

    Args:
        cutoff: Cut-off frequency in Hz of the settled average (> 0).
    """

    def __init__(self, cutoff: float) -> None:
        if cutoff <= 0:
            raise ValueError(f"cutoff must be > 0, got {cutoff}")
        self.cutoff = float(cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes unchanged."""
        self._value: np.ndarray | None = None
        self._time = 0.0
        self._count = 0

    def __call__(self, x: np.ndarray, timestamp: float) -> np.ndarray:
        """Add one sample taken at ``timestamp`` (seconds, increasing); returns the average,
        float64, ``x``'s shape. A repeated timestamp returns the previous average."""
        x = np.asarray(x, dtype=np.float64)
        if self._value is None:
            self._value, self._time, self._count = x.copy(), float(timestamp), 1
            return self._value.copy()
        period = _period(self._value, self._time, x, timestamp)
        if period <= 0:
            return self._value.copy()
        self._count += 1
        alpha = max(1.0 / self._count, float(smoothing_factor(self.cutoff, period)))
        self._value = self._value + alpha * (x - self._value)
        self._time = float(timestamp)
        return self._value.copy()
