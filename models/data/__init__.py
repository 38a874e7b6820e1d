"""Event data: synthetic DVS gestures, the time-reversed benchmark, DVS128 Gesture and DDD-20 loaders."""
