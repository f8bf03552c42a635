"""The analyze stage: pose3d.npz -> kinematics per frame, reps and each cue's verdict (kinematics.csv, reps.json)."""
