// Private helpers shared by the config module's .cpp files (message wording, did-you-mean). Not part of the
// module's contract; include only from host/config/*.cpp. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ih::config::internal {

// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` within a small edit distance (<= 2, <= 1 for words of 3 characters or
// fewer); nullopt when none is close enough. Ties go to the first candidate.
std::optional<std::string> closestMatch(std::string_view word, const std::vector<std::string>& candidates);

// "unknown key; did you mean "x"? Remove it or correct the spelling." or, without a close candidate,
// "unknown key. Remove it or correct the spelling (known keys: a, b)."
std::string unknownKeyText(std::string_view word, const std::vector<std::string>& candidates);

// problem + ". " + fix (no extra period when the problem ends with '?' or '.').
std::string sentence(std::string_view problem, std::string_view fix);

// A string shown in a message: redacted (ih::redact), truncated to 60 characters, in double quotes.
std::string quoteForMessage(std::string_view text);

// True for setting names that hold secrets by convention (*secret*, *token*, *key*, *password*), unless they
// name a path or a variable (*_file, *_path, *_dir, *_env, *_url, *_id, *_name).
bool looksSecretName(std::string_view key);

// Whole-text conversions of environment values; nullopt when the text is not exactly that. parseBool accepts
// true/false, 1/0, yes/no, on/off (any case); parseFloat requires a '.' or an exponent.
std::optional<int64_t> parseInteger(std::string_view text);
std::optional<double> parseFloat(std::string_view text);
std::optional<bool> parseBool(std::string_view text);

// Lowercase ASCII copy.
std::string lower(std::string_view text);
// Uppercase ASCII copy.
std::string upper(std::string_view text);

}  // namespace ih::config::internal
