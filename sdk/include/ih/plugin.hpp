// ihost plugin SDK: a header-only C++17 wrapper over the C ABI in ih/plugin_abi.h.
//
// What it gives a plugin author:
//   - ih::sdk::Status / ih::sdk::Result<T>: expected failures as values (codes are the IH_ERR_* values).
//   - ih::sdk::Call: the host services of one handler invocation, with std::string_view in and owning
//     std::string out. Valid only inside the handler that received it (like ih_call*); from host ABI 1.3
//     also on threads the handler starts and joins before returning.
//   - ih::sdk::Plugin: a base class with one virtual per handler (default: IH_ERR_UNSUPPORTED).
//   - IH_SDK_EXPORT_PLUGIN(Class, manifest, capabilities, flags): defines the one exported symbol
//     `ih_plugin_entry` and a static descriptor whose function pointers are noexcept thunks. A handler that
//     returns a non-OK Status gets its message passed to set_error; a handler that throws std::exception
//     becomes IH_ERR_INTERNAL with "unhandled exception: <what()>"; anything else thrown becomes
//     IH_ERR_INTERNAL with "unhandled non-standard exception". No exception ever crosses the boundary.
//   - ih::sdk::json: a tiny escaper and reader for JSON text (no JSON library required). Plugins are free to
//   use
//     any JSON library privately; only text crosses the boundary.
//
// Dependencies: the C++17 standard library only. Everything lives in namespace ih::sdk so it can never clash
// with the host's own ih:: types (one binary may contain both, e.g. in tests).
#ifndef IH_PLUGIN_HPP
#define IH_PLUGIN_HPP

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ih/plugin_abi.h"

namespace ih::sdk {

// ---------------------------------------------------------------------------------------------------------
// Views between ih_str and std::string_view. Both directions borrow: nothing is copied.
inline std::string_view toView(ih_str s) noexcept {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
inline ih_str toStr(std::string_view s) noexcept {
  return ih_str{s.data(), s.size()};
}

// ---------------------------------------------------------------------------------------------------------
// Status: an IH_* code plus a human-readable message (never a secret). Cheap to copy; not thread-safe to
// mutate concurrently (it is a value).
class Status {
 public:
  Status() = default;  // OK
  Status(ih_status code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  static Status invalidArgument(std::string m) { return Status(IH_ERR_INVALID_ARGUMENT, std::move(m)); }
  static Status notFound(std::string m) { return Status(IH_ERR_NOT_FOUND, std::move(m)); }
  static Status unauthenticated(std::string m) { return Status(IH_ERR_UNAUTHENTICATED, std::move(m)); }
  static Status permissionDenied(std::string m) { return Status(IH_ERR_PERMISSION_DENIED, std::move(m)); }
  static Status conflict(std::string m) { return Status(IH_ERR_CONFLICT, std::move(m)); }
  static Status rateLimited(std::string m) { return Status(IH_ERR_RATE_LIMITED, std::move(m)); }
  static Status unavailable(std::string m) { return Status(IH_ERR_UNAVAILABLE, std::move(m)); }
  static Status provider(std::string m) { return Status(IH_ERR_PROVIDER, std::move(m)); }
  static Status unsupported(std::string m) { return Status(IH_ERR_UNSUPPORTED, std::move(m)); }
  static Status tooLarge(std::string m) { return Status(IH_ERR_TOO_LARGE, std::move(m)); }
  static Status internal(std::string m) { return Status(IH_ERR_INTERNAL, std::move(m)); }
  static Status signature(std::string m) { return Status(IH_ERR_SIGNATURE, std::move(m)); }
  static Status cancelled(std::string m) { return Status(IH_ERR_CANCELLED, std::move(m)); }

  bool isOk() const noexcept { return code_ == IH_OK; }
  ih_status code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  ih_status code_ = IH_OK;
  std::string message_;
};

// Result<T>: either a value or a non-OK Status. Accessing value() on an error is a programmer error
// (throws std::logic_error, which the thunks turn into IH_ERR_INTERNAL).
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.isOk()) status_ = Status::internal("Result constructed from an OK status without a value");
  }

  bool isOk() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return isOk(); }
  const Status& status() const noexcept { return status_; }

  T& value() & {
    check();
    return *value_;
  }
  const T& value() const& {
    check();
    return *value_;
  }
  T&& value() && {
    check();
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void check() const {
    if (!value_) throw std::logic_error("Result::value() on error: " + status_.message());
  }
  std::optional<T> value_;
  Status status_;
};

// ---------------------------------------------------------------------------------------------------------
// Minimal JSON text helpers. Enough to build request bodies and read flat fields of host metadata
// (request_json, event_json, http responses) without a JSON library. All functions are pure and thread-safe.
namespace json {

// `s` as a JSON string literal, quotes included. Control characters are escaped; UTF-8 passes through.
inline std::string quote(std::string_view s) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xF]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

namespace detail {
inline void skipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    ++i;
}
// Advances `i` past one JSON value; false when the text is not valid JSON at that point.
inline bool skipValue(std::string_view s, size_t& i, int depth = 0) {
  if (depth > 128) return false;
  skipSpace(s, i);
  if (i >= s.size()) return false;
  char c = s[i];
  if (c == '"') {
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        ++i;
        return true;
      } else if (static_cast<unsigned char>(s[i]) < 0x20) {
        return false;
      }
    }
    return false;
  }
  if (c == '{' || c == '[') {
    const char close = c == '{' ? '}' : ']';
    ++i;
    skipSpace(s, i);
    if (i < s.size() && s[i] == close) {
      ++i;
      return true;
    }
    for (;;) {
      if (c == '{') {
        skipSpace(s, i);
        if (i >= s.size() || s[i] != '"' || !skipValue(s, i, depth + 1)) return false;
        skipSpace(s, i);
        if (i >= s.size() || s[i] != ':') return false;
        ++i;
      }
      if (!skipValue(s, i, depth + 1)) return false;
      skipSpace(s, i);
      if (i >= s.size()) return false;
      if (s[i] == ',') {
        ++i;
        continue;
      }
      if (s[i] == close) {
        ++i;
        return true;
      }
      return false;
    }
  }
  for (std::string_view literal : {"true", "false", "null"}) {
    if (s.substr(i, literal.size()) == literal) {
      i += literal.size();
      return true;
    }
  }
  const size_t start = i;
  if (s[i] == '-') ++i;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                          s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  return i > start && (s[i - 1] >= '0' && s[i - 1] <= '9');
}
inline void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}
inline bool hex4(std::string_view s, size_t at, uint32_t& out) {
  if (at + 4 > s.size()) return false;
  out = 0;
  for (size_t k = at; k < at + 4; ++k) {
    const char h = s[k];
    out <<= 4;
    if (h >= '0' && h <= '9') {
      out |= static_cast<uint32_t>(h - '0');
    } else if (h >= 'a' && h <= 'f') {
      out |= static_cast<uint32_t>(h - 'a' + 10);
    } else if (h >= 'A' && h <= 'F') {
      out |= static_cast<uint32_t>(h - 'A' + 10);
    } else {
      return false;
    }
  }
  return true;
}
}  // namespace detail

// True when `text` is exactly one valid JSON value (surrounding whitespace allowed).
inline bool isValid(std::string_view text) {
  size_t i = 0;
  if (!detail::skipValue(text, i)) return false;
  detail::skipSpace(text, i);
  return i == text.size();
}

// The decoded content of a JSON string literal (`literal` includes the quotes); nullopt if it is not one.
inline std::optional<std::string> unquote(std::string_view literal) {
  size_t end = 0;
  if (literal.empty() || literal[0] != '"' || !detail::skipValue(literal, end) || end != literal.size()) {
    return std::nullopt;
  }
  std::string out;
  for (size_t i = 1; i + 1 < literal.size(); ++i) {
    char c = literal[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    c = literal[++i];
    switch (c) {
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!detail::hex4(literal, i + 1, cp)) return std::nullopt;
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < literal.size() && literal[i + 1] == '\\' &&
            literal[i + 2] == 'u') {
          uint32_t low = 0;
          if (detail::hex4(literal, i + 3, low) && low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        detail::appendUtf8(out, cp);
        break;
      }
      default:
        out.push_back(c);  // '"', '\\', '/'
    }
  }
  return out;
}

// Calls fn(key, raw_value_text) for each member of a JSON object. False if `object` is not a valid object.
inline bool forEachMember(std::string_view object,
                          const std::function<void(const std::string& key, std::string_view value)>& fn) {
  if (!isValid(object)) return false;
  size_t i = 0;
  detail::skipSpace(object, i);
  if (i >= object.size() || object[i] != '{') return false;
  ++i;
  for (;;) {
    detail::skipSpace(object, i);
    if (object[i] == '}') return true;
    const size_t key_start = i;
    detail::skipValue(object, i);
    const auto key = unquote(object.substr(key_start, i - key_start));
    detail::skipSpace(object, i);
    ++i;  // ':'
    detail::skipSpace(object, i);
    const size_t value_start = i;
    detail::skipValue(object, i);
    fn(key.value_or(std::string()), object.substr(value_start, i - value_start));
    detail::skipSpace(object, i);
    if (object[i] == ',') ++i;
  }
}

// Calls fn(raw_element_text) for each element of a JSON array. False if `array` is not a valid array.
inline bool forEachElement(std::string_view array, const std::function<void(std::string_view element)>& fn) {
  if (!isValid(array)) return false;
  size_t i = 0;
  detail::skipSpace(array, i);
  if (i >= array.size() || array[i] != '[') return false;
  ++i;
  for (;;) {
    detail::skipSpace(array, i);
    if (array[i] == ']') return true;
    const size_t start = i;
    detail::skipValue(array, i);
    fn(array.substr(start, i - start));
    detail::skipSpace(array, i);
    if (array[i] == ',') ++i;
  }
}

// Raw text of the top-level member `key` of a JSON object (e.g. `{"a":1}` -> "1"); nullopt when absent.
inline std::optional<std::string_view> rawField(std::string_view object, std::string_view key) {
  std::optional<std::string_view> found;
  forEachMember(object, [&](const std::string& k, std::string_view v) {
    if (!found && k == key) found = v;
  });
  return found;
}

// The string member `key`, decoded; nullopt when absent or not a string.
inline std::optional<std::string> stringField(std::string_view object, std::string_view key) {
  const auto raw = rawField(object, key);
  if (!raw) return std::nullopt;
  return unquote(*raw);
}

// The integer member `key`; nullopt when absent or not an integer that fits in int64_t.
inline std::optional<int64_t> intField(std::string_view object, std::string_view key) {
  const auto raw = rawField(object, key);
  if (!raw || raw->empty()) return std::nullopt;
  int64_t value = 0;
  const char* end = raw->data() + raw->size();
  const auto parsed = std::from_chars(raw->data(), end, value, 10);
  if (parsed.ec != std::errc() || parsed.ptr != end) return std::nullopt;
  return value;
}

// The string member `name` of a JSON object of headers, compared case-insensitively (HTTP header names).
inline std::optional<std::string> headerField(std::string_view headers_object, std::string_view name) {
  std::optional<std::string> found;
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  };
  const std::string wanted = lower(name);
  forEachMember(headers_object, [&](const std::string& k, std::string_view v) {
    if (!found && lower(k) == wanted) found = unquote(v);
  });
  return found;
}

}  // namespace json

// ---------------------------------------------------------------------------------------------------------
// Buffer: owns one host buffer (ih_buf*) and frees it with the host's buf_free. Move-only. Not thread-safe.
class Buffer {
 public:
  explicit Buffer(const ih_host_api* host, ih_buf* buf = nullptr) noexcept : host_(host), buf_(buf) {}
  ~Buffer() { reset(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept : host_(other.host_), buf_(std::exchange(other.buf_, nullptr)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      reset();
      host_ = other.host_;
      buf_ = std::exchange(other.buf_, nullptr);
    }
    return *this;
  }

  // Frees the held buffer, if any.
  void reset() noexcept {
    if (buf_ != nullptr && host_ != nullptr) host_->buf_free(buf_);
    buf_ = nullptr;
  }
  // Out-parameter for a host call: frees the held buffer first, then lets the host store a new one.
  ih_buf** out() noexcept {
    reset();
    return &buf_;
  }
  // Borrowed view, valid while this Buffer holds the buffer.
  std::string_view view() const noexcept {
    return host_ ? toView(host_->buf_view(buf_)) : std::string_view();
  }
  std::string str() const { return std::string(view()); }
  ih_buf* get() const noexcept { return buf_; }

 private:
  const ih_host_api* host_;
  ih_buf* buf_;
};

// ---------------------------------------------------------------------------------------------------------
// Outbound HTTP through the host.
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t timeout_ms = 0;       // 0: host default
  std::string idempotency_key;  // empty: none
  std::string endpoint;         // metrics label such as "/v1/balance"; empty: none
  int32_t max_attempts = 0;     // 0: host default

  // The request_json the ABI expects (body excluded: it travels as raw bytes).
  std::string toJson() const {
    std::string out =
        "{\"method\":" + json::quote(method) + ",\"url\":" + json::quote(url) + ",\"headers\":{";
    bool first = true;
    for (const auto& [name, value] : headers) {
      if (!first) out.push_back(',');
      first = false;
      out += json::quote(name) + ":" + json::quote(value);
    }
    out.push_back('}');
    if (timeout_ms > 0) out += ",\"timeout_ms\":" + std::to_string(timeout_ms);
    if (!idempotency_key.empty()) out += ",\"idempotency_key\":" + json::quote(idempotency_key);
    if (!endpoint.empty()) out += ",\"endpoint\":" + json::quote(endpoint);
    if (max_attempts > 0) out += ",\"max_attempts\":" + std::to_string(max_attempts);
    out.push_back('}');
    return out;
  }
};

struct HttpResponse {
  int32_t status = 0;
  std::string headers_json = "{}";  // JSON object of response headers
  std::string body;                 // raw bytes
  int32_t attempts = 0;

  bool isSuccess() const noexcept { return status >= 200 && status < 300; }
  // A response header by name (case-insensitive); nullopt when absent.
  std::optional<std::string> header(std::string_view name) const {
    return json::headerField(headers_json, name);
  }
};

// ---------------------------------------------------------------------------------------------------------
// Call: the host services for one handler invocation. A thin, non-owning wrapper of (host table, ih_call*);
// valid only during that invocation (on its thread, and when usableFromOtherThreads() on threads the handler
// starts and joins before returning; setResult/setError/respond/prompt stay on the handler's thread). Every
// method copies its arguments into the host (nothing is retained). Failures come back as Status with the
// host's last_error message.
class Call {
 public:
  Call(const ih_host_api* host, ih_call* call) noexcept : host_(host), call_(call) {}

  // True with a host of ABI 1.3 or newer: this call's services may be used from threads the handler starts
  // (joined before it returns), each thread seeing its own last_error. Older hosts: the handler's thread
  // only.
  bool usableFromOtherThreads() const noexcept {
    return host_ != nullptr && host_->abi_major == IH_ABI_MAJOR && host_->abi_minor >= 3;
  }

  const ih_host_api* host() const noexcept { return host_; }
  ih_call* raw() const noexcept { return call_; }

  // Structured log line; `fields_json` a JSON object or empty. Never log secrets.
  void log(int32_t level, std::string_view message, std::string_view fields_json = {}) const {
    host_->log(call_, level, toStr(message), toStr(fields_json));
  }
  void debug(std::string_view m, std::string_view f = {}) const { log(IH_LOG_DEBUG, m, f); }
  void info(std::string_view m, std::string_view f = {}) const { log(IH_LOG_INFO, m, f); }
  void warn(std::string_view m, std::string_view f = {}) const { log(IH_LOG_WARN, m, f); }
  void error(std::string_view m, std::string_view f = {}) const { log(IH_LOG_ERROR, m, f); }

  // Outbound HTTP. A non-2xx answer is a successful Result (check response.status); only transport failures
  // (timeouts, unreachable, budget exhausted) are errors.
  Result<HttpResponse> http(const HttpRequest& request) const {
    Buffer meta(host_);
    Buffer body(host_);
    const std::string request_json = request.toJson();
    const ih_status code =
        host_->http_request(call_, toStr(request_json), toStr(request.body), meta.out(), body.out());
    if (code != IH_OK) return hostFailure(code);
    HttpResponse response;
    const std::string_view meta_json = meta.view();
    response.status = static_cast<int32_t>(json::intField(meta_json, "status").value_or(0));
    response.attempts = static_cast<int32_t>(json::intField(meta_json, "attempts").value_or(1));
    if (auto headers = json::rawField(meta_json, "headers")) response.headers_json = std::string(*headers);
    response.body = body.str();
    return response;
  }

  // The calling tenant's stored credentials JSON; IH_ERR_NOT_FOUND when not connected.
  Result<std::string> credentials() const {
    Buffer out(host_);
    const ih_status code = host_->credentials_get(call_, out.out());
    if (code != IH_OK) return hostFailure(code);
    return out.str();
  }
  // Store (replace) credentials; only allowed inside connect.
  Status putCredentials(std::string_view credentials_json) const {
    return hostStatus(host_->credentials_put(call_, toStr(credentials_json)));
  }

  // A state value; nullopt (not an error) when the key is absent.
  Result<std::optional<std::string>> state(std::string_view key) const {
    Buffer out(host_);
    const ih_status code = host_->state_get(call_, toStr(key), out.out());
    if (code == IH_ERR_NOT_FOUND) return std::optional<std::string>();
    if (code != IH_OK) return hostFailure(code);
    return std::optional<std::string>(out.str());
  }
  Status putState(std::string_view key, std::string_view value) const {
    return hostStatus(host_->state_put(call_, toStr(key), toStr(value)));
  }

  // `records_json`: [{"id":"…","data":{…},"updated_at":unix_seconds}, …]
  Status upsertRecords(std::string_view model, std::string_view records_json) const {
    return hostStatus(host_->records_upsert(call_, toStr(model), toStr(records_json)));
  }
  Status deleteRecord(std::string_view model, std::string_view id, int64_t updated_at) const {
    return hostStatus(host_->records_delete(call_, toStr(model), toStr(id), updated_at));
  }

  Status emit(std::string_view type, std::string_view data_json) const {
    return hostStatus(host_->emit_event(call_, toStr(type), toStr(data_json)));
  }
  // HTTP answer of a route handler; `headers_json` a JSON object or empty. Last call wins.
  Status respond(int32_t http_status, std::string_view body, std::string_view headers_json = {}) const {
    return hostStatus(host_->respond(call_, http_status, toStr(headers_json), toStr(body)));
  }
  Status setResult(std::string_view result_json) const {
    return hostStatus(host_->set_result(call_, toStr(result_json)));
  }
  // Usually unnecessary: returning a non-OK Status from a handler sets the error message.
  void setError(std::string_view message) const { host_->set_error(call_, toStr(message)); }

  // ---- ABI 1.1 services. Each answers IH_ERR_UNSUPPORTED on a host whose table predates them. ----

  // Records and a state key (the sync cursor) in ONE transaction. Empty `state_key` = records only.
  Status commitPage(std::string_view model, std::string_view records_json, std::string_view state_key,
                    std::string_view state_value) const {
    if (!hasService(offsetof(ih_host_api, records_commit))) return unsupported("records_commit");
    return hostStatus(host_->records_commit(call_, toStr(model), toStr(records_json), toStr(state_key),
                                            toStr(state_value)));
  }
  // Asks the operator of an interactive workflow. `prompt_json`: {"key","message","kind":"text"|"secret"|
  // "confirm"|"choice","choices"?,"default"?}. IH_ERR_UNSUPPORTED when nobody can answer.
  Result<std::string> prompt(std::string_view prompt_json) const {
    if (!hasService(offsetof(ih_host_api, prompt))) return unsupported("prompt");
    Buffer out(host_);
    const ih_status code = host_->prompt(call_, toStr(prompt_json), out.out());
    if (code != IH_OK) return hostFailure(code);
    return out.str();
  }
  // Routes platform webhooks of provider account `account` to the calling tenant (or stops doing so).
  Status bindAccount(std::string_view account, bool bind = true) const {
    if (!hasService(offsetof(ih_host_api, bind_account))) return unsupported("bind_account");
    return hostStatus(host_->bind_account(call_, toStr(account), bind ? 1 : 0));
  }
  // Feeds a provider event into the inbox as if its webhook had arrived; true when it was already there.
  Result<bool> ingestEvent(std::string_view meta_json, std::string_view body) const {
    if (!hasService(offsetof(ih_host_api, inbox_ingest))) return unsupported("inbox_ingest");
    const ih_status code = host_->inbox_ingest(call_, toStr(meta_json), toStr(body));
    if (code != IH_OK) return hostFailure(code);
    return toView(host_->last_error(call_)) == "duplicate";
  }
  // Named secrets of the calling tenant (encrypted by the host). secret(): nullopt when absent.
  Status putSecret(std::string_view name, std::string_view value) const {
    if (!hasService(offsetof(ih_host_api, secret_put))) return unsupported("secret_put");
    return hostStatus(host_->secret_put(call_, toStr(name), toStr(value)));
  }
  Result<std::optional<std::string>> secret(std::string_view name) const {
    if (!hasService(offsetof(ih_host_api, secret_get))) return unsupported("secret_get");
    Buffer out(host_);
    const ih_status code = host_->secret_get(call_, toStr(name), out.out());
    if (code == IH_ERR_NOT_FOUND) return std::optional<std::string>();
    if (code != IH_OK) return hostFailure(code);
    return std::optional<std::string>(out.str());
  }

  // ---- ABI 1.2 services. ----

  // The provider revoked access on its side: the host wipes this tenant's credentials and secrets for the
  // integration, marks it disconnected, audits `reason` and emits integration.disconnected. NOT_FOUND when
  // the tenant was not connected (already wiped). Accounts stay bound (use bindAccount(account, false)).
  Status deleteCredentials(std::string_view reason) const {
    if (!hasService(offsetof(ih_host_api, credentials_delete))) return unsupported("credentials_delete");
    return hostStatus(host_->credentials_delete(call_, toStr(reason)));
  }

  // Who this call serves, from the host (never from the caller's input): JSON text {"tenant","integration",
  // "handler","public_url"} (see plugin_abi.h call_info).
  Result<std::string> callInfo() const {
    if (!hasService(offsetof(ih_host_api, call_info))) return unsupported("call_info");
    Buffer out(host_);
    const ih_status code = host_->call_info(call_, out.out());
    if (code != IH_OK) return hostFailure(code);
    return out.str();
  }

 private:
  // True when the host's table reaches the field at `offset` (and the pointer is set).
  bool hasService(size_t offset) const {
    if (host_->struct_size < offset + sizeof(void*)) return false;
    const void* const* slot =
        reinterpret_cast<const void* const*>(reinterpret_cast<const char*>(host_) + offset);
    return *slot != nullptr;
  }
  static Status unsupported(const char* service) {
    return Status(IH_ERR_UNSUPPORTED,
                  std::string("this host does not offer ") + service + " (added in a later ABI minor)");
  }

  Status hostStatus(ih_status code) const {
    if (code == IH_OK) return Status::ok();
    return hostFailure(code);
  }
  Status hostFailure(ih_status code) const {
    std::string message(toView(host_->last_error(call_)));
    if (message.empty()) message = "host service failed with status " + std::to_string(code);
    return Status(code, std::move(message));
  }

  const ih_host_api* host_;
  ih_call* call_;
};

// ---------------------------------------------------------------------------------------------------------
// Plugin: derive, override the handlers the manifest declares, and export with IH_SDK_EXPORT_PLUGIN.
// Construction: the SDK calls `Derived(const ih_host_api* host, std::string_view integration_id,
// std::string_view config_json)`; the views are borrowed (copy what you keep). Throw std::invalid_argument
// for a bad configuration (-> IH_ERR_INVALID_ARGUMENT), anything else -> IH_ERR_INTERNAL. Threading: handlers
// may run concurrently on different threads unless the descriptor has IH_FLAG_SERIALIZE; make shared members
// immutable or guard them.
class Plugin {
 public:
  virtual ~Plugin() = default;

  virtual Status onRoute(Call&, std::string_view /*request_json*/, std::string_view /*body*/) {
    return Status::unsupported("routes are not supported by this plugin");
  }
  virtual Status verifyWebhook(Call&, std::string_view /*request_json*/, std::string_view /*body*/) {
    return Status::unsupported("webhooks are not supported by this plugin");
  }
  virtual Status handleWebhook(Call&, std::string_view /*event_json*/, std::string_view /*body*/) {
    return Status::unsupported("webhooks are not supported by this plugin");
  }
  virtual Status runJob(Call&, std::string_view /*job*/, std::string_view /*params_json*/) {
    return Status::unsupported("jobs are not supported by this plugin");
  }
  virtual Status runAction(Call&, std::string_view /*action*/, std::string_view /*input_json*/) {
    return Status::unsupported("actions are not supported by this plugin");
  }
  virtual Status connect(Call&, std::string_view /*input_json*/) {
    return Status::unsupported("connect is not supported by this plugin");
  }
  virtual Status testConnection(Call&) { return Status::unsupported("test_connection is not supported"); }
  virtual Status disconnect(Call&) { return Status::unsupported("disconnect is not supported"); }
  // ABI 1.2, IH_CAP_OAUTH. `params_json` {"state","redirect_uri"} → setResult({"url":…}).
  virtual Status oauthAuthorize(Call&, std::string_view /*params_json*/) {
    return Status::unsupported("OAuth is not supported by this plugin");
  }
  // ABI 1.2, IH_CAP_OAUTH. `params_json` {"query":{…},"redirect_uri"}: exchange the code, putCredentials,
  // bindAccount, setResult({"account",…}).
  virtual Status oauthComplete(Call&, std::string_view /*params_json*/) {
    return Status::unsupported("OAuth is not supported by this plugin");
  }
};

namespace detail {

// What an ih_plugin* points to: the host table (it outlives the instance) and the user's object.
struct Instance {
  const ih_host_api* host;
  std::unique_ptr<Plugin> plugin;
};

inline void setErrorSafely(const ih_host_api* host, ih_call* call, std::string_view message) noexcept {
  if (host != nullptr && host->set_error != nullptr) host->set_error(call, toStr(message));
}

// Runs fn() and turns its Status or any exception into an ih_status (+ set_error). Never throws.
template <typename Fn>
ih_status guard(const ih_host_api* host, ih_call* call, Fn&& fn) noexcept {
  try {
    const Status status = fn();
    if (!status.isOk() && !status.message().empty()) setErrorSafely(host, call, status.message());
    return status.code();
  } catch (const std::exception& e) {
    try {
      setErrorSafely(host, call, std::string("unhandled exception: ") + e.what());
    } catch (...) {
      setErrorSafely(host, call, "unhandled exception");
    }
    return IH_ERR_INTERNAL;
  } catch (...) {
    setErrorSafely(host, call, "unhandled non-standard exception");
    return IH_ERR_INTERNAL;
  }
}

template <typename T>
struct Thunks {
  static Instance* self(ih_plugin* p) noexcept { return reinterpret_cast<Instance*>(p); }

  static ih_status create(const ih_host_api* host, ih_call* call, ih_str integration_id, ih_str config_json,
                          ih_plugin** out_instance) noexcept {
    if (out_instance == nullptr) return IH_ERR_INVALID_ARGUMENT;
    *out_instance = nullptr;
    // A table of an older minor is fine: Call checks each newer service's presence before using it.
    if (host == nullptr || host->struct_size < offsetof(ih_host_api, records_commit) ||
        host->abi_major != IH_ABI_MAJOR) {
      setErrorSafely(host, call, "host API table is missing, too small or of another major version");
      return IH_ERR_INVALID_ARGUMENT;
    }
    try {
      auto instance = std::make_unique<Instance>();
      instance->host = host;
      instance->plugin = std::make_unique<T>(host, toView(integration_id), toView(config_json));
      *out_instance = reinterpret_cast<ih_plugin*>(instance.release());
      return IH_OK;
    } catch (const std::invalid_argument& e) {
      setErrorSafely(host, call, std::string("invalid configuration: ") + e.what());
      return IH_ERR_INVALID_ARGUMENT;
    } catch (const std::exception& e) {
      setErrorSafely(host, call, std::string("unhandled exception: ") + e.what());
      return IH_ERR_INTERNAL;
    } catch (...) {
      setErrorSafely(host, call, "unhandled non-standard exception");
      return IH_ERR_INTERNAL;
    }
  }
  static void destroy(ih_plugin* p) noexcept {
    try {
      delete self(p);
    } catch (...) {  // a throwing destructor must not cross the boundary
    }
  }
  static ih_status handleRoute(ih_plugin* p, ih_call* call, ih_str request_json, ih_str body) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) {
      return plugin.onRoute(c, toView(request_json), toView(body));
    });
  }
  static ih_status verifyWebhook(ih_plugin* p, ih_call* call, ih_str request_json, ih_str body) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) {
      return plugin.verifyWebhook(c, toView(request_json), toView(body));
    });
  }
  static ih_status handleWebhook(ih_plugin* p, ih_call* call, ih_str event_json, ih_str body) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) {
      return plugin.handleWebhook(c, toView(event_json), toView(body));
    });
  }
  static ih_status runJob(ih_plugin* p, ih_call* call, ih_str job, ih_str params_json) noexcept {
    return dispatch(
        p, call, [&](Plugin& plugin, Call& c) { return plugin.runJob(c, toView(job), toView(params_json)); });
  }
  static ih_status runAction(ih_plugin* p, ih_call* call, ih_str action, ih_str input_json) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) {
      return plugin.runAction(c, toView(action), toView(input_json));
    });
  }
  static ih_status connect(ih_plugin* p, ih_call* call, ih_str input_json) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) { return plugin.connect(c, toView(input_json)); });
  }
  static ih_status testConnection(ih_plugin* p, ih_call* call) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) { return plugin.testConnection(c); });
  }
  static ih_status disconnect(ih_plugin* p, ih_call* call) noexcept {
    return dispatch(p, call, [&](Plugin& plugin, Call& c) { return plugin.disconnect(c); });
  }
  static ih_status oauthAuthorize(ih_plugin* p, ih_call* call, ih_str params_json) noexcept {
    return dispatch(p, call,
                    [&](Plugin& plugin, Call& c) { return plugin.oauthAuthorize(c, toView(params_json)); });
  }
  static ih_status oauthComplete(ih_plugin* p, ih_call* call, ih_str params_json) noexcept {
    return dispatch(p, call,
                    [&](Plugin& plugin, Call& c) { return plugin.oauthComplete(c, toView(params_json)); });
  }

 private:
  template <typename Fn>
  static ih_status dispatch(ih_plugin* p, ih_call* call, Fn&& fn) noexcept {
    Instance* instance = self(p);
    if (instance == nullptr || !instance->plugin) return IH_ERR_INVALID_ARGUMENT;
    return guard(instance->host, call, [&]() {
      Call c(instance->host, call);
      return fn(*instance->plugin, c);
    });
  }
};

}  // namespace detail

// The descriptor for plugin class T (what IH_SDK_EXPORT_PLUGIN returns). Usable directly in tests that hold
// several plugin classes in one binary. `manifest_json` must have static storage duration.
template <typename T>
constexpr ih_plugin_descriptor descriptorFor(const char* manifest_json, uint64_t capabilities,
                                             uint32_t flags) noexcept {
  return ih_plugin_descriptor{
      static_cast<uint32_t>(sizeof(ih_plugin_descriptor)),
      static_cast<uint16_t>(IH_ABI_MAJOR),
      static_cast<uint16_t>(IH_ABI_MINOR),
      capabilities,
      flags,
      0u,
      manifest_json,
      &detail::Thunks<T>::create,
      &detail::Thunks<T>::destroy,
      &detail::Thunks<T>::handleRoute,
      &detail::Thunks<T>::verifyWebhook,
      &detail::Thunks<T>::handleWebhook,
      &detail::Thunks<T>::runJob,
      &detail::Thunks<T>::runAction,
      &detail::Thunks<T>::connect,
      &detail::Thunks<T>::testConnection,
      &detail::Thunks<T>::disconnect,
      &detail::Thunks<T>::oauthAuthorize,
      &detail::Thunks<T>::oauthComplete,
  };
}

}  // namespace ih::sdk

// Defines the plugin's one exported symbol. Use once per shared library, at namespace scope:
//   IH_SDK_EXPORT_PLUGIN(MyPlugin, kManifestJson, IH_CAP_ROUTES | IH_CAP_CONNECT, 0)
// The descriptor is static and read-only; the entry point always returns it and lets the host decide whether
// the versions are compatible (so the host can log both versions in its refusal).
#define IH_SDK_EXPORT_PLUGIN(ClassName, kManifestJson, capabilities, flags)                                 \
  extern "C" IH_EXPORT const ih_plugin_descriptor* ih_plugin_entry(uint16_t host_major,                     \
                                                                   uint16_t host_minor) {                   \
    static const ih_plugin_descriptor ih_sdk_descriptor =                                                   \
        ::ih::sdk::descriptorFor<ClassName>((kManifestJson), (capabilities), static_cast<uint32_t>(flags)); \
    (void)host_major;                                                                                       \
    (void)host_minor;                                                                                       \
    return &ih_sdk_descriptor;                                                                              \
  }

#endif  // IH_PLUGIN_HPP
