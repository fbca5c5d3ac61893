// Outbound webhook endpoints, deliveries and attempts (migrations/sqlite/0004_endpoints.sql). See endpoint_store.h.
#include "store/endpoint_store.h"

#include <memory>
#include <utility>

#include "common/clock.h"
#include "store/db.h"
#include "store/store.h"

namespace ih::store {

namespace {

constexpr char kEndpointColumns[] =
    "id, tenant_id, url, description, event_types, secret, previous_secret, previous_secret_expires_at, "
    "disabled, disabled_reason, consecutive_failed_events, failing_since, created_at, updated_at";

std::string joinTypes(const std::vector<std::string>& types) {
  std::string out;
  for (const auto& t : types) {
    if (!out.empty()) out += ' ';
    out += t;
  }
  return out;
}

std::vector<std::string> splitTypes(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

EndpointRow endpointFrom(sql::Statement& q, int first = 0) {
  EndpointRow r;
  r.id = q.getColumn(first + 0).getString();
  r.tenant_id = q.getColumn(first + 1).getString();
  r.url = q.getColumn(first + 2).getString();
  r.description = q.getColumn(first + 3).getString();
  r.event_types = splitTypes(q.getColumn(first + 4).getString());
  r.secret = q.getColumn(first + 5).getString();
  r.previous_secret = q.getColumn(first + 6).getString();
  r.previous_secret_expires_at = q.getColumn(first + 7).getInt64();
  r.disabled = q.getColumn(first + 8).getInt() != 0;
  r.disabled_reason = q.getColumn(first + 9).getString();
  r.consecutive_failed_events = q.getColumn(first + 10).getInt();
  r.failing_since = q.getColumn(first + 11).getInt64();
  r.created_at = q.getColumn(first + 12).getInt64();
  r.updated_at = q.getColumn(first + 13).getInt64();
  return r;
}

Result<EndpointRow> loadEndpoint(sql::Connection& db, std::string_view tenant_id,
                                 std::string_view endpoint_id) {
  sql::Statement q(
      db, std::string("SELECT ") + kEndpointColumns + " FROM endpoints WHERE tenant_id = ? AND id = ?");
  q.bindText(1, tenant_id);
  q.bindText(2, endpoint_id);
  if (!q.executeStep()) return Status::notFound("no endpoint " + std::string(endpoint_id));
  return endpointFrom(q);
}

DeliveryRow deliveryFrom(sql::Statement& q) {
  DeliveryRow d;
  d.id = q.getColumn(0).getInt64();
  d.tenant_id = q.getColumn(1).getString();
  d.endpoint_id = q.getColumn(2).getString();
  d.event_id = q.getColumn(3).getInt64();
  d.status = q.getColumn(4).getString();
  d.attempts = q.getColumn(5).getInt();
  d.next_attempt_at = q.getColumn(6).getInt64();
  d.created_at = q.getColumn(7).getInt64();
  return d;
}

constexpr char kDeliveryColumns[] =
    "id, tenant_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at";

void failDelivery(sql::Connection& db, int64_t delivery_id, int64_t now) {
  sql::Statement q(db, "UPDATE endpoint_deliveries SET status = 'failed', updated_at = ? WHERE id = ?");
  q.bind(1, now);
  q.bind(2, delivery_id);
  q.exec();
}

}  // namespace

bool endpointMatches(const std::vector<std::string>& event_types, std::string_view type) {
  for (const auto& prefix : event_types) {
    if (prefix == "*" || type.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

EndpointStore::EndpointStore(Store& store) : store_(store) {}

Status EndpointStore::create(std::string_view tenant_id, const EndpointRow& row) {
  if (row.tenant_id != tenant_id) return Status::invalidArgument("endpoint row is for another tenant");
  return store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "INSERT INTO endpoints(id, tenant_id, url, description, event_types, secret, "
                     "after_event_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, "
                     "(SELECT COALESCE(MAX(id), 0) FROM events), ?, ?)");
    q.bindText(1, row.id);
    q.bindText(2, row.tenant_id);
    q.bindText(3, row.url);
    q.bindText(4, row.description);
    q.bindText(5, joinTypes(row.event_types));
    q.bindText(6, row.secret);
    q.bind(7, row.created_at);
    q.bind(8, row.created_at);
    q.exec();
    return Status::ok();
  });
}

Result<std::vector<EndpointRow>> EndpointStore::list(std::string_view tenant_id) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<EndpointRow>> {
    sql::Statement q(db, std::string("SELECT ") + kEndpointColumns +
                             " FROM endpoints WHERE tenant_id = ? ORDER BY created_at, id");
    q.bindText(1, tenant_id);
    std::vector<EndpointRow> out;
    while (q.executeStep())
      out.push_back(endpointFrom(q));
    return out;
  });
}

Result<EndpointRow> EndpointStore::get(std::string_view tenant_id, std::string_view endpoint_id) {
  return store_.database().read(
      [&](sql::Connection& db) -> Result<EndpointRow> { return loadEndpoint(db, tenant_id, endpoint_id); });
}

Result<EndpointRow> EndpointStore::update(std::string_view tenant_id, std::string_view endpoint_id,
                                          const EndpointUpdate& update) {
  std::optional<EndpointRow> updated;
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    auto current = loadEndpoint(db, tenant_id, endpoint_id);
    if (!current.isOk()) return current.status();
    EndpointRow r = std::move(current).value();
    if (update.url) r.url = *update.url;
    if (update.description) r.description = *update.description;
    if (update.event_types) r.event_types = *update.event_types;
    if (update.disabled) {
      if (!*update.disabled && r.disabled) {
        r.consecutive_failed_events = 0;
        r.failing_since = 0;
        r.disabled_reason.clear();
      } else if (*update.disabled && !r.disabled) {
        r.disabled_reason = "disabled by the tenant";
      }
      r.disabled = *update.disabled;
    }
    r.updated_at = nowMs();
    sql::Statement q(db,
                     "UPDATE endpoints SET url = ?, description = ?, event_types = ?, disabled = ?, "
                     "disabled_reason = ?, consecutive_failed_events = ?, failing_since = ?, updated_at = ? "
                     "WHERE tenant_id = ? AND id = ?");
    q.bindText(1, r.url);
    q.bindText(2, r.description);
    q.bindText(3, joinTypes(r.event_types));
    q.bind(4, r.disabled ? 1 : 0);
    q.bindText(5, r.disabled_reason);
    q.bind(6, r.consecutive_failed_events);
    q.bind(7, r.failing_since);
    q.bind(8, r.updated_at);
    q.bindText(9, tenant_id);
    q.bindText(10, endpoint_id);
    q.exec();
    updated = std::move(r);
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return std::move(*updated);
}

Status EndpointStore::remove(std::string_view tenant_id, std::string_view endpoint_id) {
  return store_.database().writeSync([&](sql::Connection& db) -> Status {
    sql::Statement q(db, "DELETE FROM endpoints WHERE tenant_id = ? AND id = ?");
    q.bindText(1, tenant_id);
    q.bindText(2, endpoint_id);
    q.exec();
    if (db.getChanges() == 0) return Status::notFound("no endpoint " + std::string(endpoint_id));
    for (const char* table : {"endpoint_deliveries", "endpoint_attempts"}) {
      sql::Statement d(db, std::string("DELETE FROM ") + table + " WHERE tenant_id = ? AND endpoint_id = ?");
      d.bindText(1, tenant_id);
      d.bindText(2, endpoint_id);
      d.exec();
    }
    return Status::ok();
  });
}

Result<std::vector<EndpointStore::SealedSecret>> EndpointStore::listSecretsNotStartingWith(
    std::string_view sealed_prefix, size_t limit) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<SealedSecret>> {
    std::vector<SealedSecret> out;
    for (const char* column : {"secret", "previous_secret"}) {
      sql::Statement q(db, std::string("SELECT tenant_id, id, ") + column + " FROM endpoints WHERE " +
                               column + " <> '' AND substr(" + column +
                               ", 1, ?) <> ? ORDER BY tenant_id, id LIMIT ?");
      q.bind(1, static_cast<int64_t>(sealed_prefix.size()));
      q.bindText(2, sealed_prefix);
      q.bind(3, static_cast<int64_t>(limit));
      while (q.executeStep()) {
        out.push_back(
            {q.getColumn(0).getString(), q.getColumn(1).getString(), column, q.getColumn(2).getString()});
      }
    }
    return out;
  });
}

Result<size_t> EndpointStore::countSecretsStartingWith(std::string_view sealed_prefix) {
  return store_.database().read([&](sql::Connection& db) -> Result<size_t> {
    sql::Statement q(db,
                     "SELECT (SELECT count(*) FROM endpoints WHERE substr(secret, 1, ?1) = ?2) + "
                     "(SELECT count(*) FROM endpoints WHERE substr(previous_secret, 1, ?1) = ?2)");
    q.bind(1, static_cast<int64_t>(sealed_prefix.size()));
    q.bindText(2, sealed_prefix);
    q.executeStep();
    return static_cast<size_t>(q.getColumn(0).getInt64());
  });
}

Result<bool> EndpointStore::replaceSecretIfUnchanged(const SealedSecret& old, std::string_view new_value) {
  if (old.column != "secret" && old.column != "previous_secret") {
    return Status::invalidArgument("replaceSecretIfUnchanged: no sealed column " + old.column);
  }
  bool replaced = false;
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    sql::Statement q(db, "UPDATE endpoints SET " + old.column + " = ? WHERE tenant_id = ? AND id = ? AND " +
                             old.column + " = ?");
    q.bindText(1, new_value);
    q.bindText(2, old.tenant_id);
    q.bindText(3, old.endpoint_id);
    q.bindText(4, old.value);
    q.exec();
    replaced = db.getChanges() > 0;
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return replaced;
}

Result<EndpointRow> EndpointStore::rotateSecret(std::string_view tenant_id, std::string_view endpoint_id,
                                                std::string_view new_secret, int64_t previous_expires_at) {
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    sql::Statement q(db,
                     "UPDATE endpoints SET previous_secret = secret, previous_secret_expires_at = ?, "
                     "secret = ?, updated_at = ? WHERE tenant_id = ? AND id = ?");
    q.bind(1, previous_expires_at);
    q.bindText(2, new_secret);
    q.bind(3, nowMs());
    q.bindText(4, tenant_id);
    q.bindText(5, endpoint_id);
    q.exec();
    if (db.getChanges() == 0) return Status::notFound("no endpoint " + std::string(endpoint_id));
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return get(tenant_id, endpoint_id);
}

Result<DeliveryRow> EndpointStore::resend(std::string_view tenant_id, std::string_view endpoint_id,
                                          int64_t event_id) {
  DeliveryRow out;
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    auto endpoint = loadEndpoint(db, tenant_id, endpoint_id);
    if (!endpoint.isOk()) return endpoint.status();
    if (endpoint->disabled) {
      return Status::failedPrecondition("endpoint " + std::string(endpoint_id) +
                                        " is disabled; enable it first (PATCH {\"disabled\": false})");
    }
    sql::Statement e(db, "SELECT 1 FROM events WHERE tenant_id = ? AND id = ?");
    e.bindText(1, tenant_id);
    e.bind(2, event_id);
    if (!e.executeStep()) return Status::notFound("no event " + std::to_string(event_id));
    const int64_t now = nowMs();
    sql::Statement q(
        db,
        "INSERT INTO endpoint_deliveries(tenant_id, endpoint_id, event_id, status, "
        "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?) RETURNING id");
    q.bindText(1, tenant_id);
    q.bindText(2, endpoint_id);
    q.bind(3, event_id);
    q.bind(4, now);
    q.bind(5, now);
    q.bind(6, now);
    if (!q.executeStep()) return Status::internal("delivery insert returned no id");
    out.id = q.getColumn(0).getInt64();
    out.tenant_id = std::string(tenant_id);
    out.endpoint_id = std::string(endpoint_id);
    out.event_id = event_id;
    out.status = "pending";
    out.next_attempt_at = now;
    out.created_at = now;
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return out;
}

Result<size_t> EndpointStore::recover(std::string_view tenant_id, std::string_view endpoint_id,
                                      int64_t since) {
  size_t changed = 0;
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    auto endpoint = loadEndpoint(db, tenant_id, endpoint_id);
    if (!endpoint.isOk()) return endpoint.status();
    if (endpoint->disabled) {
      return Status::failedPrecondition("endpoint " + std::string(endpoint_id) +
                                        " is disabled; enable it first (PATCH {\"disabled\": false})");
    }
    const int64_t now = nowMs();
    sql::Statement q(db,
                     "UPDATE endpoint_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                     "updated_at = ? WHERE tenant_id = ? AND endpoint_id = ? AND status = 'failed' AND "
                     "created_at >= ?");
    q.bind(1, now);
    q.bind(2, now);
    q.bindText(3, tenant_id);
    q.bindText(4, endpoint_id);
    q.bind(5, since);
    q.exec();
    changed = static_cast<size_t>(db.getChanges());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return changed;
}

Result<std::vector<AttemptRow>> EndpointStore::listAttempts(std::string_view tenant_id,
                                                            std::string_view endpoint_id, int64_t before_id,
                                                            size_t limit) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<AttemptRow>> {
    sql::Statement q(db,
                     "SELECT id, delivery_id, event_id, attempt, at, http_status, duration_ms, succeeded, "
                     "response FROM endpoint_attempts WHERE tenant_id = ? AND endpoint_id = ? AND id < ? "
                     "ORDER BY id DESC LIMIT ?");
    q.bindText(1, tenant_id);
    q.bindText(2, endpoint_id);
    q.bind(3, before_id > 0 ? before_id : INT64_MAX);
    q.bind(4, static_cast<int64_t>(limit));
    std::vector<AttemptRow> out;
    while (q.executeStep()) {
      AttemptRow a;
      a.id = q.getColumn(0).getInt64();
      a.tenant_id = std::string(tenant_id);
      a.endpoint_id = std::string(endpoint_id);
      a.delivery_id = q.getColumn(1).getInt64();
      a.event_id = q.getColumn(2).getInt64();
      a.attempt = q.getColumn(3).getInt();
      a.at = q.getColumn(4).getInt64();
      a.http_status = q.getColumn(5).getInt();
      a.duration_ms = q.getColumn(6).getInt64();
      a.succeeded = q.getColumn(7).getInt() != 0;
      a.response = q.getColumn(8).getString();
      out.push_back(std::move(a));
    }
    return out;
  });
}

Result<std::vector<DeliveryRow>> EndpointStore::listDeliveries(std::string_view tenant_id,
                                                               std::string_view endpoint_id) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<DeliveryRow>> {
    sql::Statement q(db, std::string("SELECT ") + kDeliveryColumns +
                             " FROM endpoint_deliveries WHERE tenant_id = ? AND endpoint_id = ? ORDER BY id");
    q.bindText(1, tenant_id);
    q.bindText(2, endpoint_id);
    std::vector<DeliveryRow> out;
    while (q.executeStep())
      out.push_back(deliveryFrom(q));
    return out;
  });
}

Result<bool> EndpointStore::hasUnfannedEvents() {
  return store_.database().read([&](sql::Connection& db) -> Result<bool> {
    sql::Statement q(db,
                     "SELECT EXISTS(SELECT 1 FROM events WHERE id > "
                     "(SELECT last_event_id FROM endpoint_fanout WHERE id = 1))");
    q.executeStep();
    return q.getColumn(0).getInt() != 0;
  });
}

Result<size_t> EndpointStore::fanOut(size_t limit, int64_t now) {
  size_t consumed = 0;
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    // PostgreSQL: the cursor row stays locked until the commit, so replicas fan out one after another and each
    // event once.
    sql::Statement cursor(db, db.isPostgres()
                                  ? "SELECT last_event_id FROM endpoint_fanout WHERE id = 1 FOR UPDATE"
                                  : "SELECT last_event_id FROM endpoint_fanout WHERE id = 1");
    if (!cursor.executeStep()) return Status::internal("endpoint fan-out cursor row is missing");
    const int64_t after = cursor.getColumn(0).getInt64();
    // The events after the cursor with their tenants' live endpoints, in one statement (a query per event was
    // a round trip per event on PostgreSQL); an event no endpoint wants comes once, with NULLs.
    sql::Statement events(db,
                          "SELECT e.id, e.tenant_id, e.type, ep.id, ep.event_types FROM "
                          "(SELECT id, tenant_id, type FROM events WHERE id > ? ORDER BY id LIMIT ?) e "
                          "LEFT JOIN endpoints ep ON ep.tenant_id = e.tenant_id AND ep.disabled = 0 "
                          "AND ep.after_event_id < e.id ORDER BY e.id, ep.id");
    events.bind(1, after);
    events.bind(2, static_cast<int64_t>(limit));
    sql::Statement insert(db,
                          "INSERT INTO endpoint_deliveries(tenant_id, endpoint_id, event_id, status, "
                          "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)");
    int64_t last = after;
    while (events.executeStep()) {
      const int64_t event_id = events.getColumn(0).getInt64();
      if (event_id != last) {
        last = event_id;
        ++consumed;
      }
      if (events.getColumn(3).isNull()) continue;
      if (!endpointMatches(splitTypes(events.getColumn(4).getString()), events.getColumn(2).getString()))
        continue;
      insert.reset();
      insert.bindText(1, events.getColumn(1).getString());
      insert.bindText(2, events.getColumn(3).getString());
      insert.bind(3, event_id);
      insert.bind(4, now);
      insert.bind(5, now);
      insert.bind(6, now);
      insert.exec();
    }
    sql::Statement advance(db, "UPDATE endpoint_fanout SET last_event_id = ? WHERE id = 1");
    advance.bind(1, last);
    advance.exec();
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return consumed;
}

Result<std::optional<ClaimedDelivery>> EndpointStore::claimDue(int64_t now) {
  std::optional<ClaimedDelivery> claimed;
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    // PostgreSQL: rows another replica is claiming are skipped, and a claim whose replica died (expired) is
    // taken over.
    sql::Statement due(
        db, std::string("SELECT ") + kDeliveryColumns +
                (db.isPostgres()
                     ? " FROM endpoint_deliveries WHERE (status = 'pending' AND next_attempt_at <= ?1) "
                       "OR (status = 'sending' AND claim_expires_at < ?1) "
                       "ORDER BY next_attempt_at, id LIMIT 8 FOR UPDATE SKIP LOCKED"
                     : " FROM endpoint_deliveries WHERE status = 'pending' AND next_attempt_at <= ?1 "
                       "ORDER BY next_attempt_at, id LIMIT 8"));
    due.bind(1, now);
    std::vector<DeliveryRow> candidates;
    while (due.executeStep())
      candidates.push_back(deliveryFrom(due));
    for (auto& d : candidates) {
      auto endpoint = loadEndpoint(db, d.tenant_id, d.endpoint_id);
      if (!endpoint.isOk() || endpoint->disabled) {
        failDelivery(db, d.id, now);  // endpoint disabled (or deleted): `recover` can re-queue it later
        continue;
      }
      sql::Statement e(db,
                       "SELECT occurred_at, integration_id, type, data_json FROM events WHERE tenant_id = ? "
                       "AND id = ?");
      e.bindText(1, d.tenant_id);
      e.bind(2, d.event_id);
      if (!e.executeStep()) {
        failDelivery(db, d.id, now);  // purged by retention
        continue;
      }
      ClaimedDelivery c;
      c.event_occurred_at = e.getColumn(0).getInt64();
      c.event_integration_id = e.getColumn(1).getString();
      c.event_type = e.getColumn(2).getString();
      c.event_data_json = e.getColumn(3).getString();
      sql::Statement mark(
          db,
          "UPDATE endpoint_deliveries SET status = 'sending', updated_at = ?, claimed_by = ?, "
          "claim_expires_at = ? WHERE id = ?");
      mark.bind(1, now);
      mark.bind(2, store_.replicaId());
      mark.bind(3, now + store_.claimLeaseMs());
      mark.bind(4, d.id);
      mark.exec();
      d.status = "sending";
      c.delivery = std::move(d);
      c.endpoint = std::move(endpoint).value();
      claimed = std::move(c);
      break;
    }
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return claimed;
}

Result<std::string> EndpointStore::recordAttempt(const DeliveryOutcome& outcome, const DisablePolicy& policy) {
  std::string disabled_reason;
  const AttemptRow& a = outcome.attempt;
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    disabled_reason.clear();
    sql::Statement log(
        db,
        "INSERT INTO endpoint_attempts(tenant_id, endpoint_id, delivery_id, event_id, attempt, "
        "at, http_status, duration_ms, succeeded, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    log.bindText(1, a.tenant_id);
    log.bindText(2, a.endpoint_id);
    log.bind(3, a.delivery_id);
    log.bind(4, a.event_id);
    log.bind(5, a.attempt);
    log.bind(6, a.at);
    log.bind(7, a.http_status);
    log.bind(8, a.duration_ms);
    log.bind(9, a.succeeded ? 1 : 0);
    log.bindText(10, a.response);
    log.exec();

    const int64_t now = nowMs();
    const char* status = a.succeeded ? "succeeded" : (outcome.retry_at ? "pending" : "failed");
    sql::Statement d(db,
                     "UPDATE endpoint_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
                     "updated_at = ? WHERE id = ? AND tenant_id = ?");
    d.bind(1, status);
    d.bind(2, a.attempt);
    d.bind(3, outcome.retry_at.value_or(0));
    d.bind(4, now);
    d.bind(5, a.delivery_id);
    d.bindText(6, a.tenant_id);
    d.exec();

    auto endpoint = loadEndpoint(db, a.tenant_id, a.endpoint_id);
    if (!endpoint.isOk()) return Status::ok();  // deleted meanwhile
    EndpointRow& e = endpoint.value();
    if (a.succeeded) {
      e.consecutive_failed_events = 0;
      e.failing_since = 0;
    } else {
      if (e.failing_since == 0) e.failing_since = a.at;
      if (!outcome.retry_at) ++e.consecutive_failed_events;
      if (!e.disabled) {
        if (policy.max_consecutive_failed_events > 0 &&
            e.consecutive_failed_events >= policy.max_consecutive_failed_events) {
          disabled_reason = "every attempt to deliver " + std::to_string(e.consecutive_failed_events) +
                            " consecutive events failed";
        } else if (policy.max_failing_ms > 0 && now - e.failing_since > policy.max_failing_ms) {
          disabled_reason = "deliveries have been failing for more than " +
                            std::to_string(policy.max_failing_ms / 3600000) + " hours";
        }
      }
    }
    sql::Statement u(
        db,
        "UPDATE endpoints SET consecutive_failed_events = ?, failing_since = ?, "
        "disabled = CASE WHEN ? <> '' THEN 1 ELSE disabled END, "
        "disabled_reason = CASE WHEN ? <> '' THEN ? ELSE disabled_reason END, "
        "updated_at = CASE WHEN ? <> '' THEN ? ELSE updated_at END WHERE tenant_id = ? AND id = ?");
    u.bind(1, e.consecutive_failed_events);
    u.bind(2, e.failing_since);
    u.bindText(3, disabled_reason);
    u.bindText(4, disabled_reason);
    u.bindText(5, disabled_reason);
    u.bindText(6, disabled_reason);
    u.bind(7, now);
    u.bindText(8, a.tenant_id);
    u.bindText(9, a.endpoint_id);
    u.exec();
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return disabled_reason;
}

Result<size_t> EndpointStore::releaseClaims() {
  size_t changed = 0;
  Status st = store_.database().writeSync([&](sql::Connection& db) -> Status {
    // SQLite: one process owns the file. PostgreSQL: this replica's claims (it restarted) and expired ones.
    sql::Statement q(db, std::string("UPDATE endpoint_deliveries SET status = 'pending', updated_at = ?1, "
                                     "claimed_by = '', claim_expires_at = 0 WHERE status = 'sending'") +
                             (db.isPostgres() ? " AND (claimed_by = ?2 OR claim_expires_at < ?1)" : ""));
    q.bind(1, nowMs());
    if (db.isPostgres()) q.bind(2, store_.replicaId());
    q.exec();
    changed = static_cast<size_t>(db.getChanges());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return changed;
}

Result<size_t> EndpointStore::purgeFinishedBefore(int64_t before) {
  size_t removed = 0;
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement attempts(db, "DELETE FROM endpoint_attempts WHERE at < ?");
    attempts.bind(1, before);
    attempts.exec();
    removed += static_cast<size_t>(db.getChanges());
    sql::Statement deliveries(
        db, "DELETE FROM endpoint_deliveries WHERE status IN ('succeeded', 'failed') AND updated_at < ?");
    deliveries.bind(1, before);
    deliveries.exec();
    removed += static_cast<size_t>(db.getChanges());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return removed;
}

}  // namespace ih::store
