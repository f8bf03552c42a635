# Room calibration: one calibration.toml per room (anipose-compatible, floor-aligned world frame),
# reused by every session filmed in the room. A room with `calibration:` gets that file converted.


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
        run_stage("calibration.calibrate:calibrate_from_config", log[0], params.room, output[0])
