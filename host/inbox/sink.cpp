// The inbox as a service to plugin calls: reconciled events fed in as if received, and platform account
// routing.
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/json_parse.h"
#include "inbox/inbox.h"
#include "inbox/internal.h"
#include "log/log.h"
#include "store/inbox_store.h"

namespace ih::inbox {

Result<bool> Inbox::ingest(std::string_view integration_id, std::string_view tenant_id,
                           std::string_view meta_json, std::string_view body) {
  using nlohmann::json;
  json meta = ih::parseJsonOrDiscarded(meta_json);
  if (!meta.is_object() || !meta.contains("event_id") || !meta["event_id"].is_string() ||
      meta["event_id"].get<std::string>().empty()) {
    return Status::invalidArgument("inbox_ingest: meta_json needs a non-empty \"event_id\" string");
  }
  store::InboxEvent event;
  event.integration_id = std::string(integration_id);
  event.tenant_id = std::string(tenant_id);
  event.event_id = meta["event_id"].get<std::string>();
  event.type = meta.value("type", "");
  event.object_id = meta.value("object_id", "");
  if (meta.contains("occurred_at") && meta["occurred_at"].is_number_integer()) {
    event.occurred_at = meta["occurred_at"].get<int64_t>();
  }
  event.payload = std::string(body);
  event.payload_sha256 = sha256(body);
  event.headers_json = R"({"x-ihost-source":"reconcile"})";
  event.received_at = nowMs();
  event.next_attempt_at = event.received_at;
  auto stored = impl_->events.insert(event);
  if (!stored.isOk()) return stored.status();
  bool duplicate = stored->outcome != store::IntakeOutcome::kAccepted;
  if (!duplicate) {
    log::info("reconciled event ingested",
              {{"integration", integration_id}, {"tenant", tenant_id}, {"event_id", event.event_id}});
    wake();
  }
  return duplicate;
}

Status Inbox::bindAccount(std::string_view integration_id, std::string_view account,
                          std::string_view tenant_id, bool bind) {
  auto current = impl_->events.routeTenant(integration_id, account);
  if (!current.isOk()) return current.status();
  if (current->has_value() && **current != tenant_id) {
    return Status::conflict("account " + std::string(account) + " is already connected to another tenant");
  }
  if (!bind) return current->has_value() ? impl_->events.deleteRoute(integration_id, account) : Status::ok();
  return impl_->events.setRoute(integration_id, account, tenant_id);
}

}  // namespace ih::inbox
