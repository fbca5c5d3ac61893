// Interfaces through which plugin calls reach the records store and the event stream. Header-only, so the
// records and events modules implement them without depending on the runtime.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace ih::runtime {

// Where plugin records and events go. Implemented by the records and events modules; thread-safe.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // `records_json` is an array of {"id","data","updated_at"}; older than stored → skipped.
  virtual Status upsert(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                        std::string_view records_json) = 0;
  virtual Status remove(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                        std::string_view id, int64_t updated_at) = 0;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual Status emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
                      std::string_view data_json) = 0;
};

}  // namespace ih::runtime
