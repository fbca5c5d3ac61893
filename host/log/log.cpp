#include "log/log.h"

#include "common/clock.h"
#include "common/json_text.h"
#include "common/text.h"
#include "common/time_text.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace ih::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_sink_mu;
std::function<void(std::string_view)> g_sink;  // GUARDED_BY(g_sink_mu); empty = stderr

void appendString(std::string& out, std::string_view s) {
  out += '"';
  appendJsonEscaped(out, redact(s));
  out += '"';
}

std::string timestamp() {
  return isoTimeMillis(nowMs());
}

}  // namespace

void setLevel(Level l) {
  g_level.store(static_cast<int>(l));
}
Level level() {
  return static_cast<Level>(g_level.load());
}

void setSink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_sink_mu);
  g_sink = std::move(sink);
}
void resetSink() {
  setSink(nullptr);
}

std::string_view levelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

void write(Level l, std::string_view message, Fields fields) {
  if (static_cast<int>(l) < g_level.load()) return;
  try {
    std::string line;
    line.reserve(128 + message.size());
    line += "{\"ts\":\"";
    line += timestamp();
    line += "\",\"level\":\"";
    line += levelName(l);
    line += "\",\"msg\":";
    appendString(line, message);
    for (const Field& f : fields) {
      line += ',';
      appendString(line, f.key);
      line += ':';
      switch (f.kind) {
        case Field::Kind::kString:
          appendString(line, f.text);
          break;
        case Field::Kind::kInt:
          line += std::to_string(f.number);
          break;
        case Field::Kind::kReal: {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.6g", f.real);
          line += buf;
          break;
        }
        case Field::Kind::kBool:
          line += f.number ? "true" : "false";
          break;
        case Field::Kind::kJson:
          line += f.text.empty() ? std::string("null") : redact(f.text);
          break;
      }
    }
    line += '}';
    std::lock_guard lock(g_sink_mu);
    if (g_sink) {
      g_sink(line);
    } else {
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
  } catch (...) {
    // Logging must never take the process down.
  }
}

}  // namespace ih::log

namespace ih {
namespace {

// Longest first within a family, so "sk_live_" wins over "sk_".
constexpr std::array<std::string_view, 16> kSecretPrefixes = {
    "sk_live_",  "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_", "ihk_live_",
    "ihk_test_", "ihk_",     "iha_",     "ihv_",     "ac_",      "rt_",      "sk_",    "rk_"};

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string_view knownPrefix(std::string_view token) {
  for (std::string_view p : kSecretPrefixes) {
    if (token.size() > p.size() && token.substr(0, p.size()) == p) return p;
  }
  return {};
}

bool looksSecret(std::string_view token) {
  // A bare prefix ("sk_test_" of an already masked "sk_test_****abcd") carries nothing secret: masking it again
  // would turn the plugin's own mask into "sk_********abcd".
  for (std::string_view bare : kSecretPrefixes)
    if (token == bare) return false;
  std::string_view p = knownPrefix(token);
  if (!p.empty() && token.size() >= p.size() + 4) return true;
  return token.find("_secret_") != std::string_view::npos;
}

bool startsWithBearer(std::string_view text, size_t i) {
  static constexpr std::string_view kBearer = "bearer ";
  if (text.size() - i < kBearer.size()) return false;
  for (size_t k = 0; k < kBearer.size(); ++k) {
    char c = text[i + k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kBearer[k]) return false;
  }
  return true;
}

}  // namespace

std::string mask(std::string_view secret) {
  std::string_view prefix = knownPrefix(secret);
  size_t secret_len = secret.size() - prefix.size();
  std::string out(prefix);
  out += "****";
  // Showing the last four characters is safe only when enough remains hidden, and only when they are
  // printable ASCII (as in every key format): four bytes of a multi-byte character would not be UTF-8.
  const std::string_view last = secret.size() >= 4 ? secret.substr(secret.size() - 4) : std::string_view();
  const bool printable = std::all_of(last.begin(), last.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if ((secret_len >= 12 || (prefix.empty() && secret.size() >= 16)) && printable) out += last;
  return out;
}

std::string redact(std::string_view raw) {
  // "postgresql://ihost:***@db/ihost": only text that holds a URL or a password= is copied for it.
  const bool has_url =
      raw.find("://") != std::string_view::npos || raw.find("password=") != std::string_view::npos;
  const std::string masked = has_url ? maskUrlPasswords(raw) : std::string();
  const std::string_view text = has_url ? std::string_view(masked) : raw;
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (startsWithBearer(text, i) && (i == 0 || !isTokenChar(text[i - 1]))) {
      out.append(text.substr(i, 7));
      i += 7;
      size_t end = i;
      while (end < text.size() && text[end] != ' ' && text[end] != '"' && text[end] != ',' &&
             text[end] != '\n')
        ++end;
      // "Bearer <api key>" in a message is a placeholder that shows the form: left to the token rules below
      // (which still mask a key-shaped token inside the brackets).
      if (end > i && text[i] == '<') continue;
      if (end > i) out += mask(text.substr(i, end - i));
      i = end;
      continue;
    }
    if (isTokenChar(text[i]) && (i == 0 || !isTokenChar(text[i - 1]))) {
      size_t end = i;
      while (end < text.size() && isTokenChar(text[end]))
        ++end;
      std::string_view token = text.substr(i, end - i);
      if (looksSecret(token)) {
        out += mask(token);
      } else {
        out.append(token);
      }
      i = end;
      continue;
    }
    out += text[i++];
  }
  return out;
}

}  // namespace ih
