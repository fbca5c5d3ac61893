-- migration: the webhook inbox moves to its own database file
-- SQLite only (its inbox gets a file, a writer and an fsync of its own). PostgreSQL keeps the inbox in its one
-- database: this version exists so that both dialects number their migrations alike.
SELECT 1;
