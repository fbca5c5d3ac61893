-- migration: rate budgets shared by the replicas (PostgreSQL)
-- One token bucket per budget key ("<tenant>/<provider>"): on PostgreSQL every replica takes its tokens here,
-- so N replicas together stay within one tenant's provider rate. A SQLite file has one process, whose budget
-- stays in memory: the table exists for the same schema on both backends and stays empty.
CREATE TABLE rate_buckets(
  key        TEXT COLLATE "C" CONSTRAINT "rate_buckets.key" PRIMARY KEY,
  tokens     DOUBLE PRECISION NOT NULL,  -- may go negative: callers that reserved a future token
  updated_ms BIGINT NOT NULL             -- the server's clock at the last take
);
