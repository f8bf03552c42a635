"""The triangulate stage: synchronised 2D landmarks + calibration -> the filtered 3D skeleton (pose3d.npz)."""
