"""hingecap record: one video and one timestamp CSV per camera, on one clock."""
