"""The calibrate stage: a room of cameras from ChArUco (or checkerboard) videos, in a floor-aligned world frame."""
