"""hingecap export: a session's 3D landmarks as TRC (OpenSim), C3D or CSV."""
