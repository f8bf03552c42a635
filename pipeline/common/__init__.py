"""Basics every stage shares: atomic writes, the array module (numpy/cupy), the frame-rate rule, landmarks, config checks, stage logs."""
