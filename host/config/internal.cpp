#include "config/internal.h"

#include "common/json_text.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "log/log.h"

namespace ih::config::internal {

size_t editDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  const size_t m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= m; ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::optional<std::string> closestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string needle = lower(word);
  const size_t limit = needle.size() <= 3 ? 1 : 2;
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    size_t distance = editDistance(needle, lower(candidate));
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string unknownKeyText(std::string_view word, const std::vector<std::string>& candidates) {
  if (auto match = closestMatch(word, candidates)) {
    return "unknown key; did you mean \"" + *match + "\"? Remove it or correct the spelling.";
  }
  std::string known;
  for (const std::string& candidate : candidates) {
    if (!known.empty()) known += ", ";
    known += candidate;
  }
  if (known.empty()) return "unknown key. Remove it (this table takes no keys).";
  return "unknown key. Remove it or correct the spelling (known keys: " + known + ").";
}

std::string sentence(std::string_view problem, std::string_view fix) {
  std::string out(problem);
  if (fix.empty()) return out;
  if (!out.empty() && (out.back() == '?' || out.back() == '.')) {
    out += ' ';
  } else {
    out += ". ";
  }
  out += fix;
  return out;
}

std::string quoteForMessage(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string shown = redact(text);
  bool cut = false;
  if (shown.size() > kMaxShown) {
    shown.resize(kMaxShown);
    cut = true;
  }
  std::string out = "\"";
  appendJsonEscaped(out, shown);
  if (cut) out += "...";
  out += '"';
  return out;
}

bool looksSecretName(std::string_view key) {
  const std::string name = lower(key);
  static constexpr std::array<std::string_view, 7> kNotSecretSuffixes = {"_file", "_path", "_dir", "_env",
                                                                         "_url",  "_id",   "_name"};
  for (std::string_view suffix : kNotSecretSuffixes) {
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return false;
  }
  static constexpr std::array<std::string_view, 4> kSecretWords = {"secret", "token", "key", "password"};
  for (std::string_view word : kSecretWords) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

std::optional<int64_t> parseInteger(std::string_view text) {
  int64_t value = 0;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parseFloat(std::string_view text) {
  if (text.find_first_of(".eE") == std::string_view::npos) return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || errno != 0) return std::nullopt;
  return value;
}

std::optional<bool> parseBool(std::string_view text) {
  std::string value = lower(text);
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  return std::nullopt;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace ih::config::internal
