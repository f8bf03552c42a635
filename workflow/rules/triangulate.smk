# Synchronised 2D landmarks + the room's calibration -> the filtered 3D skeleton (pose3d.npz).


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
        slurm_extra=gpu_request,
    params:
        # as params, so that changing one of them in the config redoes the job
        settings={k: OPTIONS.get(k) for k in ("device", "repair_swaps", "refine_calibration", "outlier_px",
                                              "min_ray_angle_deg", "max_gap_s", "cutoff_hz")},
        athlete=lambda wildcards: athlete_setting(wildcards.session),
    run:
        run_stage("pipeline.triangulate.stage:triangulate_session", log[0], camera_inputs(input),
                  input.calibration, input.sync, output[0], athlete=params.athlete, **params.settings)
