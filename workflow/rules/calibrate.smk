# Room calibration: one calibration.toml per room (anipose-compatible, floor-aligned world frame),
# reused by every session filmed in the room. A room with `calibration:` gets that file converted.


def calibration_input(wildcards):
    room = config["rooms"][wildcards.room]
    return room["calibration"] if room.get("calibration") else room["calibration_videos"]


rule calibrate:
    input:
        calibration_input,
    output:
        f"{RESULTS}/rooms/{{room}}/calibration.toml",
    log:
        f"{RESULTS}/rooms/{{room}}/calibrate.log",
    threads: 2
    resources:
        mem_mb=4000,
    params:
        room=lambda wildcards: config["rooms"][wildcards.room],
    run:
        from calibration.calibrate import calibrate_from_config
        from pipeline.stage_log import stage_log

        with stage_log(log[0]):
            calibrate_from_config(params.room, output[0])
