# One session's 2D landmarks -> a common timeline (sync.json) -> the filtered 3D skeleton (pose3d.npz).


rule sync:
    input:
        unpack(pose2d_files),
    output:
        f"{RESULTS}/sessions/{{session}}/sync.json",
    log:
        f"{RESULTS}/sessions/{{session}}/logs/sync.log",
    params:
        method=lambda wildcards: session_option(config, wildcards.session, "sync"),
        max_lag_s=OPTIONS["sync_max_lag_s"],
    run:
        from pipeline.reconstruct import sync_session
        from pipeline.stage_log import stage_log

        with stage_log(log[0]):
            sync_session(dict(input), output[0], method=params.method, max_lag_s=params.max_lag_s)


rule triangulate:
    input:
        unpack(pose2d_files),
        sync=f"{RESULTS}/sessions/{{session}}/sync.json",
        calibration=lambda wildcards: room_calibration(wildcards.session),
    output:
        f"{RESULTS}/sessions/{{session}}/pose3d.npz",
    log:
        f"{RESULTS}/sessions/{{session}}/logs/triangulate.log",
    threads: 2
    resources:
        mem_mb=4000,
        gpu=1 if OPTIONS["device"] == "gpu" else 0,
    params:
        # as params, so that changing one of them in the config redoes the job
        settings={k: OPTIONS.get(k) for k in ("device", "repair_swaps", "refine_calibration", "outlier_px",
                                              "min_ray_angle_deg", "max_gap_s", "cutoff_hz")},
    run:
        from pipeline.reconstruct import triangulate_session
        from pipeline.stage_log import stage_log

        pose2d = {cam: path for cam, path in input.items() if cam not in ("sync", "calibration")}
        with stage_log(log[0]):
            triangulate_session(pose2d, input.calibration, input.sync, output[0], **params.settings)
