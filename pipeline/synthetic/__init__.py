"""Test and demo data with exact ground truth (virtual rig, simulated athlete, rendered footage and rooms); never imported by the stages."""

# What a rendered session shows depends on this package's code, not only on a session's parameters. The through-video
# benchmark's cached renders (pipeline.evaluation.video_sessions) carry this number and are rendered again when it
# differs: bump it with any change to the figure (figure.py), its motion (athlete.py) or the rendering (gl.py,
# footage.py, room.py) that changes the pixels or the truth of an existing session.
FOOTAGE_VERSION = 1
