"""Detection parameters a user or a job may override, validated with their limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DetectionParams(BaseModel):
    """Post-processing of the per-window scores into events (seed defaults)."""

    # NaN passes no bound check by name ("should be less than or equal to 1" for threshold nan).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Score above which a window is a call.")
    min_event_s: float = Field(0.2, ge=0.0, le=60.0, description="Shorter events are dropped (s).")
    min_gap_s: float = Field(0.1, ge=0.0, le=60.0, description="Closer events are merged (s).")
    smoothing_windows: int = Field(
        5, ge=1, le=51, description="Centred moving-average length over window scores."
    )
    peak_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="A single window scoring at least this before smoothing is a "
        "call even where smoothing dilutes it (a pop one window sees); None: off."
    )
    target_class: str = Field("anemonefish", min_length=1, max_length=64)
    channel: int = Field(0, ge=0, le=255, description="Channel analysed in multichannel files.")
