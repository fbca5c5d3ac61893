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
  Db::Parts parts;
  parts.name = maskUrlPasswords(options.url);
  parts.dialect = sql::Dialect::kPostgres;
  parts.max_batch = options.max_batch;
  parts.begin_sql = "BEGIN";
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
