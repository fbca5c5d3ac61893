-- migration: a job run's "since" (unix seconds), for jobs that take one
-- POST .../jobs/{job}/run {"since"} and `ihost sync run --since`; NULL for an ordinary run.
ALTER TABLE job_runs ADD COLUMN since BIGINT;
