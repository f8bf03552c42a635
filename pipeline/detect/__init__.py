"""The detect stage: MediaPipe BlazePose 2D landmarks of one camera's video -> pose2d/{cam}.npz."""
