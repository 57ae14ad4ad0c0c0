"""Video: frame sources, tracking by alignment, temporal smoothing, overlay and JSON-lines outputs.

frames (:mod:`.reader`) -> :class:`FaceTracker` (ROI from the last landmarks, re-detect on schedule / failure)
-> smoother (:mod:`.smooth`: One Euro, look-ahead window) -> overlay video + JSON lines (:mod:`.writer`, :mod:`.draw`).
"""
from .filters import OneEuroFilter, window_smooth
from .reader import FrameSource, open_frames
from .smooth import NoSmoother, OneEuroSmoother, WindowSmoother, make_smoother
from .tracker import FaceTracker, TrackerConfig, TrackResult, tracking_signals

__all__ = ["OneEuroFilter", "window_smooth", "FrameSource", "open_frames", "NoSmoother", "OneEuroSmoother",
           "WindowSmoother", "make_smoother", "FaceTracker", "TrackerConfig", "TrackResult", "tracking_signals"]
