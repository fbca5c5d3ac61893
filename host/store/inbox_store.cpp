// Webhook inbox persistence (migrations/sqlite/0002, 0007, 0008). See inbox_store.h for the event lifecycle.
#include <algorithm>
#include <future>
#include <map>
#include <string_view>
#include <tuple>

#include "common/clock.h"
#include "common/text.h"
#include "log/log.h"
#include "store/db.h"
#include "store/inbox_store.h"
#include "store/payload_codec.h"
#include "store/store.h"

namespace ih::store {

namespace {

constexpr std::string_view kStatusNames[] = {"pending", "processing", "processed",
                                             "failed",  "dead",       "unroutable"};

// Columns of list/get; the payload and headers only for get.
constexpr const char* kSummaryColumns =
    "id, integration_id, tenant_id, account, event_id, type, object_id, occurred_at, status, attempts, "
    "next_attempt_at, received_at, updated_at, processed_at, last_error, duplicates, conflicts";

InboxEvent summaryFrom(sql::Statement& q) {
  InboxEvent e;
  e.id = q.getColumn(0).getInt64();
  e.integration_id = q.getColumn(1).getString();
  e.tenant_id = q.getColumn(2).getString();
  e.account = q.getColumn(3).getString();
  e.event_id = q.getColumn(4).getString();
  e.type = q.getColumn(5).getString();
  e.object_id = q.getColumn(6).getString();
  e.occurred_at = q.getColumn(7).getInt64();
  e.status = parseInboxStatus(q.getColumn(8).getString()).value_or(InboxStatus::kPending);
  e.attempts = q.getColumn(9).getInt();
  e.next_attempt_at = q.getColumn(10).getInt64();
  e.received_at = q.getColumn(11).getInt64();
  e.updated_at = q.getColumn(12).getInt64();
  if (!q.getColumn(13).isNull()) e.processed_at = q.getColumn(13).getInt64();
  if (!q.getColumn(14).isNull()) e.last_error = q.getColumn(14).getString();
  e.duplicates = q.getColumn(15).getInt();
  e.conflicts = q.getColumn(16).getInt();
  return e;
}

void appendStatusList(std::string& sql, const std::vector<InboxStatus>& statuses) {
  sql += "(";
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += "'";
    sql += inboxStatusName(statuses[i]);
    sql += "'";
  }
  sql += ")";
}

struct OutcomeCopy {
  int64_t id;
  std::string tenant_id, integration_id, object_id;
  int64_t occurred_at;
  int attempt;
  int64_t started_at, duration_ms;
  bool ok, dead;
  std::string error;
  int64_t next_attempt_at;
  sinks::Deferred writes;
  int64_t next_attempt_if_writes_failed;
};

}  // namespace

std::string_view inboxStatusName(InboxStatus status) {
  return kStatusNames[static_cast<int>(status)];
}

std::optional<InboxStatus> parseInboxStatus(std::string_view name) {
  for (size_t i = 0; i < std::size(kStatusNames); ++i) {
    if (kStatusNames[i] == name) return static_cast<InboxStatus>(i);
  }
  return std::nullopt;
}

InboxStore::InboxStore(Store& store)
    : db_(store.inboxDatabase()),
      main_(store.database()),
      replica_(store.replicaId()),
      lease_ms_(store.claimLeaseMs()) {}
InboxStore::~InboxStore() = default;

// --- intake ---

namespace {

// One intake: insert, or count a duplicate / conflict on the original row. Runs on the writer thread.
Status insertOnWriter(sql::Connection& db, const InboxEvent& event, const EncodedPayload& payload,
                      IntakeResult& result) {
  static constexpr std::string_view kInsert =
      "INSERT INTO webhook_events(integration_id, tenant_id, account, event_id, type, object_id, "
      "occurred_at, payload, payload_sha256, headers_json, status, attempts, next_attempt_at, received_at, "
      "updated_at, payload_codec) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) "
      "ON CONFLICT(integration_id, tenant_id, event_id) DO NOTHING RETURNING id";
  static constexpr std::string_view kFind =
      "SELECT id, payload_sha256 FROM webhook_events WHERE integration_id = ? AND tenant_id = ? AND event_id "
      "= ?";
  static constexpr std::string_view kDuplicate =
      "UPDATE webhook_events SET duplicates = duplicates + 1 WHERE id = ?";
  static constexpr std::string_view kConflict =
      "UPDATE webhook_events SET conflicts = conflicts + 1 WHERE id = ?";
  {
    sql::Statement q(db, kInsert);
    q.bindText(1, event.integration_id);
    q.bindText(2, event.tenant_id);
    q.bindText(3, event.account);
    q.bindText(4, event.event_id);
    q.bindText(5, event.type);
    q.bindText(6, event.object_id);
    q.bind(7, event.occurred_at);
    q.bindBlob(8, payload.bytes);
    q.bindBlob(9, event.payload_sha256);
    q.bindText(10, event.headers_json);
    q.bindText(11, inboxStatusName(event.status));
    q.bind(12, event.next_attempt_at);
    q.bind(13, event.received_at);
    q.bind(14, event.received_at);
    q.bindText(15, payload.codec);
    if (q.executeStep()) {
      result.outcome = IntakeOutcome::kAccepted;
      result.id = q.getColumn(0).getInt64();
      return Status::ok();
    }
  }
  std::string stored_hash;
  {
    sql::Statement q(db, kFind);
    q.bindText(1, event.integration_id);
    q.bindText(2, event.tenant_id);
    q.bindText(3, event.event_id);
    if (!q.executeStep()) return Status::internal("webhook event vanished during dedupe");
    result.id = q.getColumn(0).getInt64();
    stored_hash = q.getColumn(1).getString();
  }
  result.outcome = stored_hash == event.payload_sha256 ? IntakeOutcome::kDuplicate : IntakeOutcome::kConflict;
  sql::Statement q(db, result.outcome == IntakeOutcome::kDuplicate ? kDuplicate : kConflict);
  q.bind(1, result.id);
  q.exec();
  return Status::ok();
}

}  // namespace

Result<IntakeResult> InboxStore::insert(const InboxEvent& event) {
  auto result = std::make_shared<IntakeResult>();
  const EncodedPayload payload = encodePayload(event.payload);  // here, not on the single writer
  Status st = db_.writeSync([&event, &payload, result](sql::Connection& db) {
    return insertOnWriter(db, event, payload, *result);
  });
  if (!st.isOk()) return st;
  return *result;
}

void InboxStore::insertAsync(InboxEvent event, InsertDone done) {
  struct State {
    InboxEvent event;
    EncodedPayload payload;
    IntakeResult result;
    InsertDone done;
  };
  EncodedPayload payload = encodePayload(event.payload);  // on the caller's thread, not the single writer
  event.payload.clear();                                  // the writer binds `payload`
  auto state = std::make_shared<State>(State{std::move(event), std::move(payload), {}, std::move(done)});
  db_.writeAsync(
      [state](sql::Connection& db) {
        return insertOnWriter(db, state->event, state->payload, state->result);
      },
      [state](const Status& st) {
        if (st.isOk()) {
          state->done(state->result);
        } else {
          state->done(st);
        }
      });
}

// --- routing ---

Status InboxStore::setRoute(std::string_view integration_id, std::string_view account,
                            std::string_view tenant_id) {
  if (integration_id.empty() || account.empty() || tenant_id.empty()) {
    return Status::invalidArgument("a webhook route needs an integration, an account and a tenant");
  }
  int64_t now = nowMs();
  return main_.writeSync([&](sql::Connection& db) {
    sql::Statement q(
        db,
        "INSERT INTO webhook_routes(integration_id, account, tenant_id, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(integration_id, account) DO UPDATE SET tenant_id = excluded.tenant_id, "
        "updated_at = excluded.updated_at");
    q.bindText(1, integration_id);
    q.bindText(2, account);
    q.bindText(3, tenant_id);
    q.bind(4, now);
    q.exec();
    return Status::ok();
  });
}

Status InboxStore::deleteRoute(std::string_view integration_id, std::string_view account) {
  return main_.writeSync([&](sql::Connection& db) {
    sql::Statement q(db, "DELETE FROM webhook_routes WHERE integration_id = ? AND account = ?");
    q.bindText(1, integration_id);
    q.bindText(2, account);
    q.exec();
    return Status::ok();
  });
}

Result<std::optional<std::string>> InboxStore::routeTenant(std::string_view integration_id,
                                                           std::string_view account) {
  return main_.read([&](sql::Connection& db) -> Result<std::optional<std::string>> {
    sql::Statement q(db, "SELECT tenant_id FROM webhook_routes WHERE integration_id = ? AND account = ?");
    q.bindText(1, integration_id);
    q.bindText(2, account);
    if (!q.executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(q.getColumn(0).getString());
  });
}

// --- dispatch ---

Result<size_t> InboxStore::recoverInterrupted(int64_t now) {
  size_t changed = 0;
  Status st = db_.writeSync([&](sql::Connection& db) {
    // SQLite: one process owns the file, so whatever is processing was left by a crash. PostgreSQL: only this
    // replica's claims (it restarted) and expired ones; the others belong to replicas still running.
    sql::Statement q(db, std::string("UPDATE webhook_events SET status = 'pending', next_attempt_at = ?1, "
                                     "updated_at = ?1, claimed_by = '', claim_expires_at = 0 "
                                     "WHERE status = 'processing'") +
                             (db.isPostgres() ? " AND (claimed_by = ?2 OR claim_expires_at < ?1)" : ""));
    q.bind(1, now);
    if (db.isPostgres()) q.bind(2, replica_);
    changed = static_cast<size_t>(q.exec());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return changed;
}

Result<std::vector<ClaimedEvent>> InboxStore::claimDue(int64_t now, size_t limit) {
  // SQLite is told which index to use (its planner picked a worse one under load). PostgreSQL locks the rows it
  // picks and skips rows another replica's claim holds, so N replicas never claim the same event.
  const auto claimSql = [](bool pg) {
    return std::string(
               "UPDATE webhook_events SET status = 'processing', attempts = attempts + 1, updated_at = ?1, "
               "claimed_by = ?3, claim_expires_at = ?4 "
               "WHERE id IN (SELECT e.id FROM webhook_events AS e ") +
           (pg ? "" : "INDEXED BY webhook_events_due ") +
           (pg ? "WHERE ((e.status IN ('pending', 'failed') AND e.next_attempt_at <= ?1) OR "
                 "(e.status = 'processing' AND e.claim_expires_at < ?1)) "
               : "WHERE e.status IN ('pending', 'failed') AND e.next_attempt_at <= ?1 ") +
           // One object's events one at a time: not while another event of the same object is in flight (a
           // worker dispatches its own batch in order, so two of them claimed together stay ordered).
           "AND (e.object_id = '' OR NOT EXISTS (SELECT 1 FROM webhook_events AS f " +
           (pg ? "" : "INDEXED BY webhook_events_in_flight ") +
           "WHERE f.status = 'processing' AND f.object_id != '' AND f.id <> e.id AND f.tenant_id = "
           "e.tenant_id AND "
           "f.integration_id = e.integration_id AND f.object_id = e.object_id)) "
           "ORDER BY e.next_attempt_at, e.id LIMIT ?2" +
           (pg ? " FOR UPDATE OF e SKIP LOCKED) " : ") ") +
           "RETURNING id, integration_id, tenant_id, account, event_id, type, object_id, occurred_at, "
           "payload, "
           "headers_json, attempts, next_attempt_at, received_at, payload_codec, replays" +
           // PostgreSQL: the newest change of the event's object already applied, in the same statement (a
           // query per event is a round trip each). SQLite cannot use the index for a subquery in RETURNING (it
           // scans the table), so it asks per event below, which costs no round trip there.
           (pg ? ", (SELECT o.occurred_at FROM webhook_objects AS o WHERE webhook_events.object_id != '' AND "
                 "o.tenant_id = webhook_events.tenant_id AND o.integration_id = "
                 "webhook_events.integration_id "
                 "AND o.object_id = webhook_events.object_id)"
               : "");
  };
  static constexpr std::string_view kApplied =
      "SELECT occurred_at FROM webhook_objects WHERE tenant_id = ? AND integration_id = ? AND object_id = ?";
  static const std::string kClaimSqlite = claimSql(false), kClaimPostgres = claimSql(true);
  auto out = std::make_shared<std::vector<ClaimedEvent>>();
  auto codecs = std::make_shared<std::vector<std::string>>();  // payload codec per claimed event
  Status st = db_.writeSync([this, now, limit, out, codecs](sql::Connection& db) {
    out->clear();
    codecs->clear();
    {
      sql::Statement q(db, db.isPostgres() ? kClaimPostgres : kClaimSqlite);
      q.bind(1, now);
      q.bind(2, static_cast<int64_t>(limit));
      q.bind(3, replica_);
      q.bind(4, now + lease_ms_);
      while (q.executeStep()) {
        ClaimedEvent c;
        InboxEvent& e = c.event;
        e.id = q.getColumn(0).getInt64();
        e.integration_id = q.getColumn(1).getString();
        e.tenant_id = q.getColumn(2).getString();
        e.account = q.getColumn(3).getString();
        e.event_id = q.getColumn(4).getString();
        e.type = q.getColumn(5).getString();
        e.object_id = q.getColumn(6).getString();
        e.occurred_at = q.getColumn(7).getInt64();
        e.payload = q.getColumn(8).getString();
        e.headers_json = q.getColumn(9).getString();
        e.attempts = q.getColumn(10).getInt();
        e.next_attempt_at = q.getColumn(11).getInt64();
        e.received_at = q.getColumn(12).getInt64();
        e.status = InboxStatus::kProcessing;
        codecs->push_back(q.getColumn(13).getString());
        e.replays = q.getColumn(14).getInt();
        if (db.isPostgres() && !q.getColumn(15).isNull()) c.applied_occurred_at = q.getColumn(15).getInt64();
        out->push_back(std::move(c));
      }
    }
    if (db.isPostgres()) return Status::ok();
    for (ClaimedEvent& c : *out) {
      if (c.event.object_id.empty()) continue;
      sql::Statement q(db, kApplied);
      q.bindText(1, c.event.tenant_id);
      q.bindText(2, c.event.integration_id);
      q.bindText(3, c.event.object_id);
      if (q.executeStep()) c.applied_occurred_at = q.getColumn(0).getInt64();
    }
    return Status::ok();
  });
  if (!st.isOk()) return st;
  // Decoded here, off the writer. A payload that cannot be decoded (a damaged file) can never be handled:
  // that event goes to the dead letter with the reason, the others of the batch are handed out.
  std::vector<ClaimedEvent> ready;
  ready.reserve(out->size());
  for (size_t i = 0; i < out->size(); ++i) {
    ClaimedEvent& c = (*out)[i];
    auto decoded = decodePayload(std::move(c.event.payload), (*codecs)[i]);
    if (decoded.isOk()) {
      c.event.payload = std::move(*decoded);
      ready.push_back(std::move(c));
      continue;
    }
    AttemptOutcome dead;
    dead.event = &c.event;
    dead.started_at = now;
    dead.error = decoded.status().message();
    dead.dead = true;
    if (Status s = complete(dead); !s.isOk()) return s;
    log::error("webhook event dead-lettered: its stored payload cannot be decoded",
               {{"event_row", c.event.id}, {"error", decoded.status().message()}});
  }
  *out = std::move(ready);
  std::sort(out->begin(), out->end(), [](const ClaimedEvent& a, const ClaimedEvent& b) {
    return std::tie(a.event.next_attempt_at, a.event.id) < std::tie(b.event.next_attempt_at, b.event.id);
  });
  return std::move(*out);
}

Status InboxStore::releaseClaims(const std::vector<int64_t>& ids) {
  return db_.writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "UPDATE webhook_events SET status = 'pending', claimed_by = '', claim_expires_at = 0, "
                     "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END "
                     "WHERE id = ?1 AND status = 'processing' AND claimed_by = ?2");
    q.bind(2, replica_);
    for (int64_t id : ids) {
      q.reset();
      q.bind(1, id);
      q.exec();
    }
    return Status::ok();
  });
}

Result<std::optional<int64_t>> InboxStore::nextDueAt() {
  return db_.read([](sql::Connection& db) -> Result<std::optional<int64_t>> {
    sql::Statement q(db, std::string("SELECT next_attempt_at FROM webhook_events ") +
                             (db.isPostgres() ? "" : "INDEXED BY webhook_events_due ") +
                             "WHERE status IN ('pending', 'failed') ORDER BY next_attempt_at, id LIMIT 1");
    if (!q.executeStep()) return std::optional<int64_t>();
    return std::optional<int64_t>(q.getColumn(0).getInt64());
  });
}

namespace {

OutcomeCopy copyOutcome(const AttemptOutcome& outcome) {
  const InboxEvent& e = *outcome.event;
  return OutcomeCopy{e.id,
                     e.tenant_id,
                     e.integration_id,
                     e.object_id,
                     e.occurred_at,
                     e.attempts,
                     outcome.started_at,
                     outcome.duration_ms,
                     outcome.ok,
                     outcome.dead,
                     outcome.ok ? std::string() : toStorableText(redact(outcome.error)),
                     outcome.next_attempt_at,
                     outcome.writes,
                     outcome.next_attempt_if_writes_failed};
}

// Runs on the writer thread: the attempt row, the event's new status and (on success) its object's watermark.
// Nothing reads their answers, so on PostgreSQL they ride with the next statement (Statement::execDeferred).
Status applyOutcome(sql::Connection& db, const OutcomeCopy& c) {
  static constexpr std::string_view kAttempt =
      "INSERT INTO webhook_attempts(event_row, attempt, started_at, duration_ms, ok, error) VALUES (?, ?, ?, "
      "?, ?, ?)";
  static constexpr std::string_view kProcessed =
      "UPDATE webhook_events SET status = 'processed', processed_at = ?2, updated_at = ?2, last_error = NULL "
      "WHERE id = ?1 AND status = 'processing'";
  static constexpr std::string_view kFailed =
      "UPDATE webhook_events SET status = ?2, next_attempt_at = ?3, updated_at = ?4, last_error = ?5 "
      "WHERE id = ?1 AND status = 'processing'";
  static constexpr std::string_view kObject =
      "INSERT INTO webhook_objects(tenant_id, integration_id, object_id, occurred_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(tenant_id, integration_id, object_id) DO UPDATE SET "
      "occurred_at = CASE WHEN excluded.occurred_at > webhook_objects.occurred_at THEN excluded.occurred_at "
      "ELSE webhook_objects.occurred_at END";
  const int64_t finished = c.started_at + c.duration_ms;
  // The handling's deferred writes were queued before this task: their failures are known by now.
  bool ok = c.ok, dead = c.dead;
  int64_t next_attempt_at = c.next_attempt_at;
  std::string late_error;
  if (ok && c.writes) {
    if (Status w = c.writes->status(); !w.isOk()) {
      ok = false;
      dead = c.next_attempt_if_writes_failed == 0;
      next_attempt_at = c.next_attempt_if_writes_failed;
      late_error =
          toStorableText(redact("storing the records or events of the handling failed: " + w.message()));
    }
  }
  const std::string& error = ok ? c.error : late_error.empty() ? c.error : late_error;
  {
    sql::Statement q(db, kAttempt);
    q.bind(1, c.id);
    q.bind(2, c.attempt);
    q.bind(3, c.started_at);
    q.bind(4, c.duration_ms);
    q.bind(5, ok ? 1 : 0);
    q.bindText(6, error);
    q.execDeferred();
  }
  if (ok) {
    sql::Statement q(db, kProcessed);
    q.bind(1, c.id);
    q.bind(2, finished);
    q.execDeferred();
    if (!c.object_id.empty()) {
      sql::Statement o(db, kObject);
      o.bindText(1, c.tenant_id);
      o.bindText(2, c.integration_id);
      o.bindText(3, c.object_id);
      o.bind(4, c.occurred_at);
      o.execDeferred();
    }
  } else {
    sql::Statement q(db, kFailed);
    q.bind(1, c.id);
    q.bindText(2, dead ? "dead" : "failed");
    q.bind(3, next_attempt_at);
    q.bind(4, finished);
    q.bindText(5, error);
    q.execDeferred();
  }
  return Status::ok();
}

}  // namespace

void InboxStore::completeAsync(const AttemptOutcome& outcome, std::function<void(const Status&)> done) {
  completeAllAsync({outcome}, std::move(done));
}

void InboxStore::completeAllAsync(const std::vector<AttemptOutcome>& outcomes,
                                  std::function<void(const Status&)> done) {
  auto copies = std::make_shared<std::vector<OutcomeCopy>>();
  copies->reserve(outcomes.size());
  bool wrote = false;
  for (const AttemptOutcome& outcome : outcomes) {
    copies->push_back(copyOutcome(outcome));
    wrote = wrote || outcome.writes != nullptr;
  }
  WriteTask task = [copies](sql::Connection& db) {
    for (const OutcomeCopy& c : *copies) {
      if (Status st = applyOutcome(db, c); !st.isOk()) return st;
    }
    return Status::ok();
  };
  if (&db_ == &main_ || !wrote) {
    db_.writeAsync(std::move(task), std::move(done));
    return;
  }
  // The handlings' records and events were queued on the main file's writer: the outcomes are queued on the
  // inbox's writer once those have committed (or failed: their groups know by then), behind a no-op task on
  // the main writer, so an outcome is never durable before the writes it vouches for.
  Db* inbox = &db_;
  main_.writeAsync([](sql::Connection&) { return Status::ok(); },
                   [inbox, task = std::move(task), done = std::move(done)](const Status&) mutable {
                     inbox->writeAsync(std::move(task), std::move(done));
                   });
}

Status InboxStore::complete(const AttemptOutcome& outcome) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  completeAsync(outcome, [promise](const Status& s) { promise->set_value(s); });
  return future.get();
}

Result<int64_t> InboxStore::backlog() {
  return db_.read([](sql::Connection& db) -> Result<int64_t> {
    sql::Statement q(db,
                     "SELECT (SELECT count(*) FROM webhook_events WHERE status IN ('pending', 'failed')) + "
                     "(SELECT count(*) FROM webhook_events WHERE status = 'processing')");
    q.executeStep();
    return q.getColumn(0).getInt64();
  });
}

Result<std::optional<int64_t>> InboxStore::oldestPendingReceivedAt() {
  return db_.read([](sql::Connection& db) -> Result<std::optional<int64_t>> {
    // webhook_events_by_status (status, id): ids grow with arrival, so the first is the oldest.
    sql::Statement q(db,
                     "SELECT received_at FROM webhook_events WHERE status = 'pending' ORDER BY id LIMIT 1");
    if (!q.executeStep()) return std::optional<int64_t>();
    return std::optional<int64_t>(q.getColumn(0).getInt64());
  });
}

// --- operate ---

Result<std::vector<InboxEvent>> InboxStore::listImpl(const std::optional<std::string>& tenant_id,
                                                     const InboxFilter& filter) {
  std::string sql = std::string("SELECT ") + kSummaryColumns + " FROM webhook_events WHERE 1 = 1";
  // Numbered parameters: the ones a filter leaves out are simply not used.
  if (tenant_id) sql += " AND tenant_id = ?1";
  if (filter.integration_id) sql += " AND integration_id = ?2";
  if (filter.status) sql += " AND status = ?3";
  if (filter.type) sql += " AND type = ?4";
  if (filter.since) sql += " AND received_at >= ?5";
  if (filter.before_id > 0) sql += " AND id < ?6";
  sql += " ORDER BY id DESC LIMIT ?7";
  return db_.read([&](sql::Connection& db) -> Result<std::vector<InboxEvent>> {
    sql::Statement q(db, sql);
    if (tenant_id) q.bindText(1, *tenant_id);
    if (filter.integration_id) q.bindText(2, *filter.integration_id);
    if (filter.status) q.bindText(3, inboxStatusName(*filter.status));
    if (filter.type) q.bindText(4, *filter.type);
    if (filter.since) q.bind(5, *filter.since);
    if (filter.before_id > 0) q.bind(6, filter.before_id);
    q.bind(7, static_cast<int64_t>(std::clamp<size_t>(filter.limit, 1, 500)));
    std::vector<InboxEvent> out;
    while (q.executeStep())
      out.push_back(summaryFrom(q));
    return out;
  });
}

Result<std::vector<InboxEvent>> InboxStore::list(std::string_view tenant_id, const InboxFilter& filter) {
  return listImpl(std::string(tenant_id), filter);
}

Result<std::vector<InboxEvent>> InboxStore::adminList(const InboxFilter& filter) {
  return listImpl(std::nullopt, filter);
}

Result<InboxEvent> InboxStore::getImpl(const std::optional<std::string>& tenant_id, int64_t id) {
  return db_.read([&](sql::Connection& db) -> Result<InboxEvent> {
    sql::Statement q(db, std::string("SELECT ") + kSummaryColumns +
                             ", payload, payload_sha256, headers_json, payload_codec FROM webhook_events "
                             "WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep() || (tenant_id && q.getColumn(2).getString() != *tenant_id)) {
      return Status::notFound("webhook event " + std::to_string(id) + " not found");
    }
    InboxEvent e = summaryFrom(q);
    auto payload = decodePayload(q.getColumn(17).getString(), q.getColumn(20).getString());
    if (!payload.isOk()) {
      return Status::internal("webhook event " + std::to_string(id) + ": " + payload.status().message());
    }
    e.payload = std::move(*payload);
    e.payload_sha256 = q.getColumn(18).getString();
    e.headers_json = q.getColumn(19).getString();
    return e;
  });
}

Result<InboxEvent> InboxStore::get(std::string_view tenant_id, int64_t id) {
  return getImpl(std::string(tenant_id), id);
}

Result<InboxEvent> InboxStore::adminGet(int64_t id) {
  return getImpl(std::nullopt, id);
}

Result<std::vector<InboxAttempt>> InboxStore::attempts(int64_t event_row) {
  return db_.read([&](sql::Connection& db) -> Result<std::vector<InboxAttempt>> {
    sql::Statement q(db,
                     "SELECT event_row, attempt, started_at, duration_ms, ok, error FROM webhook_attempts "
                     "WHERE event_row = ? ORDER BY id");
    q.bind(1, event_row);
    std::vector<InboxAttempt> out;
    while (q.executeStep()) {
      out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt(), q.getColumn(2).getInt64(),
                     q.getColumn(3).getInt64(), q.getColumn(4).getInt() != 0, q.getColumn(5).getString()});
    }
    return out;
  });
}

Status InboxStore::replayOne(std::optional<std::string> tenant_id, int64_t id, int64_t now) {
  // An unroutable event takes the tenant its account maps to now. The routes are in the main database, which
  // may be another file than the inbox's: looked up first, outside the write.
  std::optional<std::string> mapped;
  {
    auto row = db_.read([&](sql::Connection& db) -> Result<std::pair<std::string, std::string>> {
      sql::Statement q(db,
                       "SELECT integration_id, account FROM webhook_events WHERE id = ? AND status = "
                       "'unroutable'");
      q.bind(1, id);
      if (!q.executeStep()) return std::pair<std::string, std::string>();
      return std::pair(q.getColumn(0).getString(), q.getColumn(1).getString());
    });
    if (!row.isOk()) return row.status();
    if (!row->first.empty()) {
      auto routed = routeTenant(row->first, row->second);
      if (!routed.isOk()) return routed.status();
      mapped = std::move(*routed);
    }
  }
  return db_.writeSync([&](sql::Connection& db) -> Status {
    sql::Statement find(db,
                        "SELECT tenant_id, status, integration_id, account FROM webhook_events WHERE id = ?");
    find.bind(1, id);
    if (!find.executeStep() || (tenant_id && find.getColumn(0).getString() != *tenant_id)) {
      return Status::notFound("webhook event " + std::to_string(id) + " not found");
    }
    const std::string status = find.getColumn(1).getString();
    std::string route_tenant = find.getColumn(0).getString();
    if (status == "processing") {
      return Status::conflict("webhook event " + std::to_string(id) +
                              " is being processed; replay it afterwards");
    }
    if (status == "unroutable") {
      if (!mapped) {
        return Status::conflict("account \"" + find.getColumn(3).getString() +
                                "\" is still not mapped to a tenant; map it first, then replay");
      }
      route_tenant = *mapped;
    }
    sql::Statement q(
        db,
        "UPDATE webhook_events SET status = 'pending', tenant_id = ?2, attempts = 0, replays = replays + 1, "
        "next_attempt_at = ?3, updated_at = ?3, processed_at = NULL, last_error = NULL WHERE id = ?1");
    q.bind(1, id);
    q.bindText(2, route_tenant);
    q.bind(3, now);
    q.exec();
    return Status::ok();
  });
}

Status InboxStore::replay(std::string_view tenant_id, int64_t id, int64_t now) {
  return replayOne(std::string(tenant_id), id, now);
}

Status InboxStore::adminReplay(int64_t id, int64_t now) {
  return replayOne(std::nullopt, id, now);
}

Result<size_t> InboxStore::replayMatching(const ReplayFilter& filter, int64_t now) {
  std::vector<InboxStatus> statuses = filter.statuses;
  if (statuses.empty()) statuses = {InboxStatus::kFailed, InboxStatus::kDead};
  statuses.erase(std::remove_if(statuses.begin(), statuses.end(),
                                [](InboxStatus s) {
                                  return s == InboxStatus::kProcessing || s == InboxStatus::kUnroutable;
                                }),
                 statuses.end());
  if (statuses.empty())
    return Status::invalidArgument("bulk replay takes failed, dead, pending or processed events");
  std::string sql =
      "UPDATE webhook_events SET status = 'pending', attempts = 0, replays = replays + 1, "
      "next_attempt_at = ?1, updated_at = ?1, processed_at = NULL, last_error = NULL WHERE status IN ";
  appendStatusList(sql, statuses);
  if (filter.id) sql += " AND id = ?2";
  if (filter.since) sql += " AND received_at >= ?3";
  if (filter.integration_id) sql += " AND integration_id = ?4";
  if (filter.tenant_id) sql += " AND tenant_id = ?5";
  size_t changed = 0;
  Status st = db_.writeSync([&](sql::Connection& db) {
    sql::Statement q(db, sql);
    q.bind(1, now);
    if (filter.id) q.bind(2, *filter.id);
    if (filter.since) q.bind(3, *filter.since);
    if (filter.integration_id) q.bindText(4, *filter.integration_id);
    if (filter.tenant_id) q.bindText(5, *filter.tenant_id);
    changed = static_cast<size_t>(q.exec());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return changed;
}

Result<size_t> InboxStore::pruneProcessed(int64_t processed_before) {
  constexpr int64_t kBatch = 2000;  // small batches keep each transaction (and the writer's queue) short
  size_t total = 0;
  for (;;) {
    size_t deleted = 0;
    Status st = db_.writeSync([&](sql::Connection& db) {
      sql::Statement attempts(
          db,
          "DELETE FROM webhook_attempts WHERE event_row IN (SELECT id FROM webhook_events "
          "WHERE status = 'processed' AND processed_at < ?1 ORDER BY processed_at LIMIT ?2)");
      attempts.bind(1, processed_before);
      attempts.bind(2, kBatch);
      attempts.exec();
      sql::Statement events(
          db,
          "DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events "
          "WHERE status = 'processed' AND processed_at < ?1 ORDER BY processed_at LIMIT ?2)");
      events.bind(1, processed_before);
      events.bind(2, kBatch);
      deleted = static_cast<size_t>(events.exec());
      return Status::ok();
    });
    if (!st.isOk()) return st;
    total += deleted;
    if (deleted < static_cast<size_t>(kBatch)) break;
  }
  return total;
}

}  // namespace ih::store
