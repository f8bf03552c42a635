# The hinge itself: kinematics per frame, reps, and each coaching cue's verdict per rep.
# The cameras' silhouettes and the room's calibration let it measure the back and the feet in the images;
# the measurement-error model gives each value its interval (and the borderline verdict).
# A session without reps still gets its kinematics (and a report saying why nothing was judged).


rule analyze:
    input:
        pose3d=f"{RESULTS}/sessions/{{session}}/pose3d.npz",
        cues=OPTIONS["cues"],
        measurement_error=lambda wildcards: OPTIONS.get("measurement_error") or [],
        silhouettes=lambda wildcards: list(silhouette_files(wildcards).values()),
        calibration=lambda wildcards: room_calibration(wildcards.session),
    output:
        kinematics=f"{RESULTS}/sessions/{{session}}/kinematics.csv",
        reps=f"{RESULTS}/sessions/{{session}}/reps.json",
    log:
        f"{RESULTS}/sessions/{{session}}/logs/analyze.log",
    params:
        exercise=lambda wildcards: SESSIONS[wildcards.session]["exercise"],
        options=lambda wildcards: {
            "hip_offset_m": SESSIONS[wildcards.session].get("hip_offset_m"),
            "silhouettes": silhouette_files(wildcards),
            "calibration": room_calibration(wildcards.session),
            "error_model": OPTIONS.get("measurement_error"),
        },
    run:
        run_stage("pipeline.analyze.stage:analyze_session", log[0], input.pose3d, params.exercise,
                  Path(output.reps).parent, input.cues, require_reps=False, **params.options)
