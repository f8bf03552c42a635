# Every camera's 2D landmarks -> each camera's clock offset and the common timeline (sync.json).


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
        run_stage("pipeline.sync.stage:sync_session", log[0], dict(input), output[0], method=params.method,
                  max_lag_s=params.max_lag_s)
