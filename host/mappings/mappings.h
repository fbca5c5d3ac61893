// Mappings: per tenant and integration, which of the tenant's own ids a provider object stands for (a Stripe
// product or price -> the tenant's product or SKU). Plugins declare the kinds and which record members hold
// such ids in their manifest (loader::MappingSpec); the tenant sets the mapping with
// PUT /api/integrations/{id}/mappings, and the records API adds "mapped": {kind: tenant id | null} to the
// records of those models when they are read, so a changed mapping applies at once, with no re-sync.
//
// Thread-safe. Borrowed references must outlive the object.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/mapping_store.h"
#include "store/record_store.h"

namespace ih::http {
class Server;
}
namespace ih::tenancy {
class Tenancy;
}

namespace ih::mappings {

// One integration's declaration (from its plugin's manifest; see loader::MappingSpec).
struct Spec {
  struct Kind {
    std::string name;
    std::string description;
  };
  struct Apply {
    std::string model;
    std::string field;  // data member holding a provider id of `kind`
    std::string kind;
  };
  std::vector<Kind> kinds;
  std::vector<Apply> apply;
};

inline constexpr size_t kMaxEntries = 10000;        // per (tenant, integration), all kinds together
inline constexpr size_t kMaxExternalIdBytes = 255;  // a provider id
inline constexpr size_t kMaxInternalIdBytes = 200;  // the tenant's id

class Mappings {
 public:
  // `specs`: integration id -> its declaration (integrations without one declare no kinds).
  Mappings(store::MappingStore& store, std::map<std::string, Spec> specs);

  // The declaration of an integration; an empty Spec when it declares none.
  const Spec& spec(std::string_view integration_id) const;
  Result<store::MappingSet> get(std::string_view tenant_id, std::string_view integration_id);
  // Validates the body of PUT /api/integrations/{id}/mappings ({"mappings": {kind: {provider id: tenant
  // id}}}) and replaces the whole set. kInvalidArgument naming the member that is wrong (nothing stored).
  Status replace(std::string_view tenant_id, std::string_view integration_id, std::string_view body_json,
                 int64_t now);
  // For each record (in order), the members to add to it in the records API: `"mapped":{...}` for a model
  // with apply rules, else empty. Reads the tenant's mapping once.
  Result<std::vector<std::string>> annotate(std::string_view tenant_id, std::string_view integration_id,
                                            std::string_view model, const std::vector<store::Record>& rows);

  // The JSON answer of GET and PUT.
  std::string toJson(std::string_view integration_id, const store::MappingSet& set) const;

 private:
  store::MappingStore& store_;
  const std::map<std::string, Spec, std::less<>> specs_;
};

// Whether an integration id names a configured, enabled integration (404 otherwise).
using KnownIntegration = std::function<bool(std::string_view integration_id)>;

// GET /api/integrations/{id}/mappings (read)  → {"object":"mappings","integration","kinds":{name:{"description",
//     "applies_to":[{"model","field"}]}},"mappings":{kind:{provider id: tenant id}},"updated_at":unix|null}
// PUT /api/integrations/{id}/mappings (write) {"mappings":{kind:{provider id: tenant id}}} → the same; the
//     whole set is replaced (a kind left out is emptied). 400 invalid_request naming the member.
void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Mappings& mappings, KnownIntegration known);

}  // namespace ih::mappings
