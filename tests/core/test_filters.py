"""The 1€ filter: a hand-computed sequence, constants, vectorisation, scale and joint speed;
the settling average: the mean first, then an exponential average."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.filters import FilterConfig, OneEuroFilter, SettlingAverage, smoothing_factor


def test_hand_computed_sequence() -> None:
    # min_cutoff 1 Hz, beta 0.5, d_cutoff 1 Hz; samples 0, 1, 1.5 at 0, 0.1, 0.2 s.
    # Step 2: speed 10, alpha_d = 1 / (1 + 1/(2 pi 0.1)) = 0.385870, speed_hat = 3.858695,
    #   fc = 1 + 0.5 * 3.858695 = 2.929348, alpha = 0.647957, x_hat = 0.647957.
    # Step 3: speed (1.5 - 0.647957) / 0.1 = 8.520428, speed_hat = 5.657516, fc = 3.828758,
    #   alpha = 0.706371, x_hat = 0.647957 + 0.706371 * 0.852043 = 1.249817.
    smoother = OneEuroFilter(FilterConfig(min_cutoff=1.0, beta=0.5, d_cutoff=1.0))
    outputs = [float(smoother(np.array(x), t)) for x, t in [(0.0, 0.0), (1.0, 0.1), (1.5, 0.2)]]
    assert outputs == pytest.approx([0.0, 0.6479572, 1.2498171], abs=1e-6)


def test_smoothing_factor() -> None:
    assert smoothing_factor(1.0, 1 / (2 * np.pi)) == pytest.approx(0.5)
    assert smoothing_factor(1e9, 0.01) == pytest.approx(1.0)


def test_constant_signal_stays_constant() -> None:
    value = np.array([[3.25, -7.0], [1e3, 0.0]])
    smoother = OneEuroFilter(FilterConfig(0.3, 10.0, 1.0), joint_axis=True)
    for k in range(50):
        np.testing.assert_array_equal(smoother(value, k / 30, scale=np.array([2.0, 5.0])), value)


def test_elements_are_independent_and_repeated_time_holds() -> None:
    config = FilterConfig(1.0, 0.2, 1.0)
    together = OneEuroFilter(config)
    alone = [OneEuroFilter(config) for _ in range(3)]
    rng = np.random.default_rng(0)
    for k in range(20):
        x = rng.normal(size=3)
        joint = together(x, k * 0.04)
        np.testing.assert_allclose(joint, [f(x[j], k * 0.04) for j, f in enumerate(alone)])
    assert np.array_equal(together(np.ones(3) * 99, 19 * 0.04), joint)  # same timestamp


def test_more_smoothing_when_slow_less_lag_when_fast() -> None:
    rng = np.random.default_rng(1)
    times = np.arange(300) / 30
    noise = rng.normal(0, 1.0, 300)
    still = OneEuroFilter(FilterConfig(1.0, 0.0, 1.0))
    filtered = np.array([still(np.array(n), t) for n, t in zip(noise, times, strict=True)])
    assert np.std(np.diff(filtered)) < 0.2 * np.std(np.diff(noise))
    # a ramp: a higher beta trails it less
    ramp = 100 * times
    trails = []
    for beta in (0.0, 1.0):
        smoother = OneEuroFilter(FilterConfig(1.0, beta, 1.0))
        out = np.array([smoother(np.array(x), t) for x, t in zip(ramp, times, strict=True)])
        trails.append(ramp[-1] - out[-1])
    assert trails[1] < 0.2 * trails[0]


def test_scale_makes_beta_size_free() -> None:
    # the same motion at twice the size, with twice the scale, gives twice the output
    times = np.arange(60) / 30
    path = np.sin(times * 3)
    outputs = []
    for size in (1.0, 2.0):
        smoother = OneEuroFilter(FilterConfig(0.5, 5.0, 1.0))
        outputs.append(
            [smoother(np.array(size * x), t, size) for x, t in zip(path, times, strict=True)]
        )
    np.testing.assert_allclose(np.array(outputs[1]), 2 * np.array(outputs[0]), rtol=1e-12)


def test_bad_use() -> None:
    with pytest.raises(ValueError, match="cut-offs"):
        FilterConfig(min_cutoff=0.0)
    smoother = OneEuroFilter()
    smoother(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="shape"):
        smoother(np.zeros(4), 1.0)
    smoother.reset()
    assert smoother.value is None
    np.testing.assert_array_equal(smoother(np.ones(4), 2.0), np.ones(4))


def test_settling_average_is_the_mean_then_an_exponential_average() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(400, 3))
    average = SettlingAverage(cutoff=0.05)
    alpha = float(smoothing_factor(0.05, 1 / 30))  # 0.0104: 1 / n is larger up to n = 96
    expected = samples[0].copy()
    for n, sample in enumerate(samples, start=1):
        out = average(sample, n / 30)
        if n <= 96:
            np.testing.assert_allclose(out, samples[:n].mean(axis=0), atol=1e-12)
            expected = out
        else:
            expected = expected + alpha * (sample - expected)
            np.testing.assert_allclose(out, expected, atol=1e-12)
    # A slow change still comes through: 10 s after a step, (1 - alpha)^300 = 4 % is left.
    for k in range(1, 301):
        out = average(np.ones(3), (400 + k) / 30)
    np.testing.assert_allclose(out, 1 + (expected - 1) * (1 - alpha) ** 300, atol=1e-12)
    assert np.all(np.abs(out - 1) < 0.05 * np.abs(expected - 1))
    np.testing.assert_array_equal(average(np.zeros(3), 1.0), out)  # an old timestamp: held
    average.reset()
    np.testing.assert_array_equal(average(np.full(3, 7.0), 0.0), np.full(3, 7.0))
    with pytest.raises(ValueError, match="shape"):
        average(np.zeros(4), 1.0)
    with pytest.raises(ValueError, match="cutoff"):
        SettlingAverage(0.0)
