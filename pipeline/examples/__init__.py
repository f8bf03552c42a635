"""The built-in demo and the Pose2Sim real-data example."""
