// PostgreSQL only: hears when any replica committed new events (NOTIFY ihost_events, sent by EventStore in the
// inserting transaction), so a process can fan out events it did not write itself. events/ reads the table
// after each wake-up (the table is the source of truth; a notification carries nothing).
#pragma once

#include <memory>

#include "common/status.h"

namespace ih::store {

class Store;

class EventFeed {
 public:
  // A connection of its own that LISTENs. nullptr (and ok) on SQLite, where one process writes everything.
  static Result<std::unique_ptr<EventFeed>> open(const Store& store);
  ~EventFeed();
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  // Waits up to `timeout_ms` for a notification. True when one (or several) came, or when the connection was
  // lost and made again (events may have been missed meanwhile: read the table either way). Not thread-safe:
  // one thread waits.
  bool wait(int timeout_ms);

 private:
  struct Impl;
  explicit EventFeed(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ih::store
