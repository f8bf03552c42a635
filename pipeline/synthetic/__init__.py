"""Test and demo data with exact ground truth (virtual rig, simulated athlete, rendered footage and rooms); never imported by the stages."""
