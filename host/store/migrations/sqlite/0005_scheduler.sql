-- migration: scheduled jobs: leases, run history
-- Column names "trigger", "full" and "rows" are SQL keywords: always quoted.
CREATE TABLE job_leases(
  integration TEXT NOT NULL,
  tenant      TEXT NOT NULL,
  job         TEXT NOT NULL,
  holder      TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY(integration, tenant, job)
) WITHOUT ROWID;

CREATE TABLE job_runs(
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  integration TEXT NOT NULL,
  tenant      TEXT NOT NULL REFERENCES tenants(id),
  job         TEXT NOT NULL,
  "trigger"   TEXT NOT NULL CHECK("trigger" IN ('schedule', 'manual', 'cli')),
  "full"      INTEGER NOT NULL DEFAULT 0,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  status      TEXT NOT NULL CHECK(status IN ('running', 'succeeded', 'failed')),
  pages       INTEGER NOT NULL DEFAULT 0,
  "rows"      INTEGER NOT NULL DEFAULT 0,
  error       TEXT
);
CREATE INDEX job_runs_by_job ON job_runs(tenant, integration, job, id);
