#include "store/event_feed.h"

#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <thread>

#include "log/log.h"
#include "store/sql_postgres.h"
#include "store/store.h"

namespace ih::store {

struct EventFeed::Impl {
  sql::PgOptions options;
  std::unique_ptr<sql::PgConnection> connection;

  // Connects and LISTENs; false (logged) when the server cannot be reached.
  bool listen() {
    try {
      connection = std::make_unique<sql::PgConnection>(options);
      connection->exec("LISTEN ihost_events");
      return true;
    } catch (const sql::Error& e) {
      connection.reset();
      log::warn("event feed: cannot listen", {{"error", e.what()}});
      return false;
    }
  }
};

Result<std::unique_ptr<EventFeed>> EventFeed::open(const Store& store) {
  if (!store.isPostgres()) return std::unique_ptr<EventFeed>();
  auto impl = std::make_unique<Impl>();
  impl->options.url = store.url_;
  impl->options.application_name = "ihost events";
  impl->options.statement_timeout_ms = 0;  // only LISTEN runs here
  try {
    impl->connection = std::make_unique<sql::PgConnection>(impl->options);
    impl->connection->exec("LISTEN ihost_events");
  } catch (const sql::Error& e) {
    return sql::statusFromError(e);
  }
  return std::unique_ptr<EventFeed>(new EventFeed(std::move(impl)));
}

EventFeed::EventFeed(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventFeed::~EventFeed() = default;

bool EventFeed::wait(int timeout_ms) {
  Impl& m = *impl_;
  if (!m.connection || !m.connection->healthy()) {
    // Lost: try again at most once per wait, then report a wake-up so the caller re-reads the table.
    const bool back = m.listen();
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return back;
  }
  PGconn* conn = m.connection->handle();
  const auto drain = [&] {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  if (drain()) return true;
  pollfd fd{PQsocket(conn), POLLIN, 0};
  if (fd.fd < 0) {
    m.connection.reset();
    return true;
  }
  const int ready = ::poll(&fd, 1, timeout_ms);
  if (ready <= 0) return false;
  if (PQconsumeInput(conn) == 0) {  // the connection failed: made again at the next wait
    m.connection.reset();
    return true;
  }
  return drain();
}

}  // namespace ih::store
