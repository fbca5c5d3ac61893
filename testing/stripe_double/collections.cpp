// The generic store behind the resource files of the Stripe double: find/insert per account and kind, list
// pagination (limit, starting_after/ending_before, created filters), search queries, expand[] and lookupAny.
// All functions REQUIRE Impl::mu held.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

const char* kindForId(const std::string& id) {
  static const std::pair<const char*, const char*> prefixes[] = {
      {"prod_", "products"}, {"price_", "prices"},         {"cus_", "customers"},
      {"in_", "invoices"},   {"ii_", "invoiceitems"},      {"pi_", "payment_intents"},
      {"ch_", "charges"},    {"re_", "refunds"},           {"sub_", "subscriptions"},
      {"evt_", "events"},    {"we_", "webhook_endpoints"}, {"pm_", "payment_methods"}};
  for (const auto& [p, k] : prefixes)
    if (id.rfind(p, 0) == 0) return k;
  return nullptr;
}

struct CreatedRange {
  int64_t lo = INT64_MIN;
  int64_t hi = INT64_MAX;
};

// Parses created / created[gt|gte|lt|lte]. Returns an error reply for non-integers.
std::optional<Reply> parseRange(const json& params, const std::string& key, CreatedRange& range) {
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  auto bad = [&](const std::string& p) {
    return stripeError(400, "invalid_request_error", "parameter_invalid_integer", "Invalid integer: " + p,
                       key);
  };
  if (it->is_string()) {
    auto v = asInt(*it);
    if (!v) return bad(it->get<std::string>());
    range.lo = range.hi = *v;
    return std::nullopt;
  }
  if (!it->is_object()) return bad("");
  for (auto& [op, val] : it->items()) {
    auto v = asInt(val);
    if (!v) return bad(val.is_string() ? val.get<std::string>() : val.dump());
    if (op == "gt")
      range.lo = std::max(range.lo, *v + 1);
    else if (op == "gte")
      range.lo = std::max(range.lo, *v);
    else if (op == "lt")
      range.hi = std::min(range.hi, *v - 1);
    else if (op == "lte")
      range.hi = std::min(range.hi, *v);
    else
      return stripeError(400, "invalid_request_error", "parameter_unknown",
                         "Received unknown parameter: " + key + "[" + op + "]", key + "[" + op + "]");
  }
  return std::nullopt;
}

}  // namespace

Stored* StripeDouble::Impl::find(Account& a, const std::string& kind, const std::string& id) {
  auto cit = a.collections.find(kind);
  if (cit == a.collections.end()) return nullptr;
  auto it = cit->second.find(id);
  return it == cit->second.end() ? nullptr : &it->second;
}

Stored& StripeDouble::Impl::insert(Account& a, const std::string& kind, json obj) {
  std::string id = obj["id"];
  Stored& s = a.collections[kind][id];
  s.obj = std::move(obj);
  s.seq = nextSeq();
  return s;
}

json StripeDouble::Impl::lookupAny(Account& a, const std::string& id, int64_t now) {
  if (id.rfind("txn_", 0) == 0) {
    const TxnRow* row = a.txns.find(id.substr(4));
    return row ? a.txns.render(*row, now) : json(nullptr);
  }
  if (id.rfind("acct_", 0) == 0) {
    Account* other = account(id);
    return other && (other->id == a.id || other->platform_id == a.id) ? other->obj : json(nullptr);
  }
  const char* kind = kindForId(id);
  if (!kind) return nullptr;
  if (Stored* s = find(a, kind, id)) return s->obj;
  if (id.rfind("ch_", 0) == 0) {
    // Synthetic charge behind a seeded balance transaction.
    if (const TxnRow* row = a.txns.find(id.substr(3)); row && row->extra == UINT32_MAX)
      return chargeObject(id, row->amount, a.txns.currency(*row), row->created, a.txns.id(*row), false);
  }
  return nullptr;
}

void StripeDouble::Impl::expand(Ctx& c, json& obj, const json& expand_params, bool in_list) {
  for (const std::string& path : stringList(expand_params)) {
    std::string p = path;
    if (in_list) {
      if (p.rfind("data.", 0) != 0) continue;
      p = p.substr(5);
    }
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= p.size() && parts.size() < 4) {
      size_t dot = p.find('.', start);
      if (dot == std::string::npos) dot = p.size();
      parts.push_back(p.substr(start, dot - start));
      start = dot + 1;
    }
    json* node = &obj;
    for (const auto& part : parts) {
      if (!node->is_object() || !node->contains(part)) break;
      json& field = (*node)[part];
      if (field.is_string()) {
        json found = lookupAny(c.acct, field.get<std::string>(), c.now);
        if (!found.is_null()) field = found;
      }
      node = &field;
    }
  }
}

Reply StripeDouble::Impl::withExpand(Ctx& c, json obj) {
  const json expand_params = c.params.value("expand", json());
  if (!expand_params.is_null()) expand(c, obj, expand_params, false);
  return ok(std::move(obj));
}

Reply StripeDouble::Impl::missingOrUnrecognized(Ctx& c, const std::string& kind, const std::string& object) {
  if (!find(c.acct, kind, c.seg[1])) return noSuch(object, c.seg[1]);
  return unrecognized(c);
}

Reply StripeDouble::Impl::list(Ctx& c, const std::string& kind, const std::string& url,
                               const std::function<bool(const json&)>& filter) {
  int64_t limit = 0;
  if (auto e = parseLimit(c.params, limit)) return *e;
  CreatedRange range;
  if (auto e = parseRange(c.params, "created", range)) return *e;
  std::vector<const Stored*> all;
  auto cit = c.acct.collections.find(kind);
  if (cit != c.acct.collections.end())
    for (const auto& [id, s] : cit->second)
      all.push_back(&s);
  std::sort(all.begin(), all.end(), [](const Stored* a, const Stored* b) {
    int64_t ca = a->obj.value("created", int64_t{0}), cb = b->obj.value("created", int64_t{0});
    return ca != cb ? ca > cb : a->seq > b->seq;
  });
  auto matches = [&](const Stored* s) {
    if (s->obj.value("deleted", false)) return false;
    int64_t created = s->obj.value("created", int64_t{0});
    return created >= range.lo && created <= range.hi && (!filter || filter(s->obj));
  };
  const std::string after = str(c.params, "starting_after");
  const std::string before = str(c.params, "ending_before");
  auto position = [&](const std::string& id, const char* param) -> std::optional<size_t> {
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i]->obj["id"] == id) return i;
    (void)param;
    return std::nullopt;
  };
  std::vector<const Stored*> page;
  bool has_more = false;
  if (!before.empty()) {
    auto pos = position(before, "ending_before");
    if (!pos) {
      Reply r = noSuch(kind.substr(0, kind.size() - 1), before, "ending_before");
      r.status = 400;
      return r;
    }
    for (size_t i = *pos; i-- > 0;) {
      if (!matches(all[i])) continue;
      if (static_cast<int64_t>(page.size()) == limit) {
        has_more = true;
        break;
      }
      page.push_back(all[i]);
    }
    std::reverse(page.begin(), page.end());
  } else {
    size_t from = 0;
    if (!after.empty()) {
      auto pos = position(after, "starting_after");
      if (!pos) {
        Reply r = noSuch(kind.substr(0, kind.size() - 1), after, "starting_after");
        r.status = 400;
        return r;
      }
      from = *pos + 1;
    }
    for (size_t i = from; i < all.size(); ++i) {
      if (!matches(all[i])) continue;
      if (static_cast<int64_t>(page.size()) == limit) {
        has_more = true;
        break;
      }
      page.push_back(all[i]);
    }
  }
  json data = json::array();
  const json expand_params = c.params.value("expand", json());
  for (const Stored* s : page) {
    data.push_back(s->obj);
    if (!expand_params.is_null()) expand(c, data.back(), expand_params, true);
  }
  return ok({{"object", "list"}, {"data", std::move(data)}, {"has_more", has_more}, {"url", url}});
}

Reply StripeDouble::Impl::search(Ctx& c, const std::string& kind, const std::string& url) {
  const std::string query = str(c.params, "query");
  if (query.empty()) return missingParam("query");
  int64_t limit = 0;
  if (auto e = parseLimit(c.params, limit)) return *e;
  struct Clause {
    std::string field, meta_key, op, value;
    bool negate = false;
  };
  std::vector<Clause> clauses;
  size_t pos = 0;
  auto skipSpace = [&] {
    while (pos < query.size() && query[pos] == ' ')
      ++pos;
  };
  auto invalid = [&] {
    return invalidParam("query",
                        "We were unable to parse your search query. Try using the format `metadata[\"key\"]:"
                        "\"value\"` to query for metadata or `key:\"value\"` to query for other fields.");
  };
  while (true) {
    skipSpace();
    if (pos >= query.size()) break;
    if (!clauses.empty()) {
      if (query.compare(pos, 3, "AND") != 0 && query.compare(pos, 3, "and") != 0) return invalid();
      pos += 3;
      skipSpace();
    }
    Clause cl;
    if (pos < query.size() && query[pos] == '-') {
      cl.negate = true;
      ++pos;
    }
    size_t f = pos;
    while (pos < query.size() &&
           (std::isalnum(static_cast<unsigned char>(query[pos])) || query[pos] == '_' || query[pos] == '.'))
      ++pos;
    cl.field = query.substr(f, pos - f);
    if (cl.field.empty()) return invalid();
    if (cl.field == "metadata" && pos < query.size() && query[pos] == '[') {
      size_t close = query.find(']', pos);
      if (close == std::string::npos) return invalid();
      cl.meta_key = query.substr(pos + 1, close - pos - 1);
      if (cl.meta_key.size() >= 2 && (cl.meta_key[0] == '\'' || cl.meta_key[0] == '"'))
        cl.meta_key = cl.meta_key.substr(1, cl.meta_key.size() - 2);
      pos = close + 1;
    }
    for (const char* op : {">=", "<=", ":", "~", ">", "<"}) {
      if (query.compare(pos, std::strlen(op), op) == 0) {
        cl.op = op;
        pos += std::strlen(op);
        break;
      }
    }
    if (cl.op.empty()) return invalid();
    if (pos < query.size() && (query[pos] == '\'' || query[pos] == '"')) {
      char q = query[pos];
      size_t close = query.find(q, pos + 1);
      if (close == std::string::npos) return invalid();
      cl.value = query.substr(pos + 1, close - pos - 1);
      pos = close + 1;
    } else {
      size_t v = pos;
      while (pos < query.size() && query[pos] != ' ')
        ++pos;
      cl.value = query.substr(v, pos - v);
    }
    clauses.push_back(cl);
  }
  auto matches = [&](const json& obj) {
    if (obj.value("deleted", false)) return false;
    for (const auto& cl : clauses) {
      json v;
      if (cl.field == "metadata") {
        v = obj.value("metadata", json::object()).value(cl.meta_key, json());
      } else {
        v = obj.value(cl.field, json());
      }
      bool hit = false;
      if (cl.op == ":") {
        hit = v.is_string() ? v.get<std::string>() == cl.value
                            : (!v.is_null() && (v.dump() == cl.value || (v.is_null() && cl.value == "null")));
      } else if (cl.op == "~") {
        hit = v.is_string() && v.get<std::string>().find(cl.value) != std::string::npos;
      } else {
        auto n = asInt(json(cl.value));
        if (!v.is_number_integer() || !n) {
          hit = false;
        } else {
          int64_t x = v.get<int64_t>();
          hit = cl.op == ">" ? x > *n : cl.op == "<" ? x < *n : cl.op == ">=" ? x >= *n : x <= *n;
        }
      }
      if (hit == cl.negate) return false;
    }
    return true;
  };
  std::vector<const Stored*> all;
  auto cit = c.acct.collections.find(kind);
  if (cit != c.acct.collections.end())
    for (const auto& [id, s] : cit->second)
      if (matches(s.obj)) all.push_back(&s);
  std::sort(all.begin(), all.end(), [](const Stored* a, const Stored* b) {
    int64_t ca = a->obj.value("created", int64_t{0}), cb = b->obj.value("created", int64_t{0});
    return ca != cb ? ca > cb : a->seq > b->seq;
  });
  size_t offset = 0;
  std::string page = str(c.params, "page");
  if (!page.empty()) {
    auto n = page.rfind("page_", 0) == 0 ? asInt(json(page.substr(5))) : std::nullopt;
    if (!n || *n < 0) return invalidParam("page", "Invalid page token.");
    offset = static_cast<size_t>(*n);
  }
  json data = json::array();
  for (size_t i = offset; i < all.size() && static_cast<int64_t>(data.size()) < limit; ++i)
    data.push_back(all[i]->obj);
  size_t next = offset + data.size();
  bool has_more = next < all.size();
  return ok({{"object", "search_result"},
             {"data", std::move(data)},
             {"has_more", has_more},
             {"next_page", has_more ? json("page_" + std::to_string(next)) : json(nullptr)},
             {"url", url}});
}

}  // namespace ih::stripe_double
