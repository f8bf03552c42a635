# Room calibration: one calibration.toml per room (anipose-compatible, floor-aligned world frame).
# Thin rule: calibration.calibrate.calibrate_from_config does the work (same code as `hingecap calibrate`).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent))


def _calibration_input(wildcards):
    room = config["rooms"][wildcards.room]
    # an existing calibration file (anipose/Pose2Sim TOML, Qualisys .qca.txt) is converted instead of calibrating
    return room["calibration"] if room.get("calibration") else room["calibration_videos"]


rule calibrate:
    input:
        _calibration_input,
    output:
        f"{RESULTS}/rooms/{{room}}/calibration.toml",
    log:
        f"{RESULTS}/rooms/{{room}}/calibrate.log",
    params:
        room=lambda wildcards: config["rooms"][wildcards.room],
    run:
        from calibration.calibrate import calibrate_from_config

        calibrate_from_config(params.room, output[0], log=log[0])
