"""Accuracy harnesses: projected landmarks, MediaPipe on rendered footage, the Pose2Sim figures."""
