"""Time spent per stage of a run: a tracker's frames (:attr:`morph3d.Tracker.times`), an AR run
(:attr:`morph3d.ar.AR.times`)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["StageTimes"]


@dataclass
class StageTimes:
    """Seconds spent per stage over a run, and the frames counted.

    ``first_frame`` is the wall time of the first frame, one-time set-up included (the OpenGL
    context and shaders are made on the first face), when the runner records it.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    frames: int = 0
    first_frame: float = 0.0

    def add(self, stage: str, seconds: float) -> None:
        """Count ``seconds`` more for ``stage`` (a new stage starts at 0)."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def per_frame_ms(self) -> dict[str, float]:
        """Milliseconds per frame, per stage."""
        return {k: 1000 * v / max(self.frames, 1) for k, v in self.seconds.items()}

    def summary(self) -> str:
        """The milliseconds per frame of every stage on one line: ``"track 4.1, render 2.0"``."""
        return ", ".join(f"{k} {v:.1f}" for k, v in self.per_frame_ms().items())

    def fps(self) -> float:
        """Frames per second over all stages."""
        return self.frames / max(sum(self.seconds.values()), 1e-12)

    def steady_fps(self) -> float:
        """Frames per second after the first frame (without one-time set-up)."""
        rest = sum(self.seconds.values()) - self.first_frame
        return (self.frames - 1) / rest if self.frames > 1 and rest > 0 else self.fps()
