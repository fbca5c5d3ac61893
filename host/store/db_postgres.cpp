// The PostgreSQL backend of Db: a writer connection and a pool of readers on one server. Replicas share the
// server; it carries their coordination (row locks, advisory locks, LISTEN/NOTIFY).
#include "common/text.h"
#include "store/db.h"
#include "store/sql_postgres.h"

namespace ih::store {

Result<std::unique_ptr<Db>> openPostgres(const DbOptions& options, std::span<const Migration> migrations) {
  if (options.url.empty()) {
    return Status::invalidArgument(
        "storage url is empty: set [storage] url = \"postgresql://user@host:port/db\" (or "
        "IHOST_STORAGE__URL)");
  }
  sql::PgOptions pg;
  pg.url = options.url;
  pg.statement_timeout_ms = options.statement_timeout_ms;
  // on: a commit is flushed to the server's WAL before it is acknowledged. off (durable = false) may lose the
  // last commits if the server crashes, never corrupts.
  pg.session_sql = options.durable ? "SET synchronous_commit = on" : "SET synchronous_commit = off";
  // A transaction left open by a replica that vanished (its machine, not its process: a killed process's socket
  // closes) is ended by the server, so the write lock below is never held for long.
  pg.session_sql += "; SET idle_in_transaction_session_timeout = 30000";
  Db::Parts parts;
  parts.name = maskUrlPasswords(options.url);
  parts.dialect = sql::Dialect::kPostgres;
  parts.max_batch = options.max_batch;
  parts.begin_sql = "BEGIN";
  // Every write transaction of every replica holds one advisory lock until its commit ("ihost"+1 in ASCII, next
  // to the migration lock). So:
  //  - ids and sequences (event ids, each tenant's record seq) are assigned in commit order: a cursor on them
  //    never skips a row that commits later with a lower number;
  //  - transactions never wait on each other's row locks in a cycle (the fan-out cursor, sequence rows, a
  //    webhook delivered to two replicas at once): no deadlocks, so no batch fails for one.
  // The price: replicas commit one at a time (each batch holds it for its statements, not for the HTTP and
  // plugin work around them). It rides in the same round trip as the batch's first statement.
  parts.lock_sql = "SELECT pg_advisory_xact_lock(448345781365)";
  try {
    auto writer = std::make_unique<sql::PgConnection>(pg);
    Result<int> version = applyMigrations(*writer, parts.name, migrations);
    if (!version.isOk()) return version.status();
    parts.schema_version = *version;
    for (int i = 0; i < options.read_connections; ++i) {
      parts.readers.push_back(std::make_unique<sql::PgConnection>(pg));
    }
    parts.writer = std::move(writer);
  } catch (const sql::Error& e) {
    Status st = sql::statusFromError(e);
    return Status(st.code(), "cannot open database " + parts.name + ": " + st.message());
  }
  return std::make_unique<Db>(std::move(parts));
}

}  // namespace ih::store
