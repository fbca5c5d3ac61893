#include "stripe_common/keys.h"

#include <array>

namespace ih::stripe {
namespace {

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool isKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Known prefixes, longest first where they overlap.
constexpr std::array<std::string_view, 7> kPrefixes = {"sk_test_", "sk_live_", "rk_test_", "rk_live_",
                                                       "pk_test_", "pk_live_", "whsec_"};

const char* modeName(KeyMode mode) {
  return mode == KeyMode::kTest ? "test" : "live";
}

}  // namespace

// Stripe's keys are at most 255 characters.
constexpr size_t kMaxKey = 255;

ih::sdk::Result<KeyMode> secretKeyMode(std::string_view key, std::string_view field) {
  if (key.size() > kMaxKey)
    return ih::sdk::Status::invalidArgument(std::string(field) + " is longer than 255 characters");
  const bool test = startsWith(key, "sk_test_") || startsWith(key, "rk_test_");
  const bool live = startsWith(key, "sk_live_") || startsWith(key, "rk_live_");
  if ((!test && !live) || key.size() <= 8) {
    return ih::sdk::Status::invalidArgument(std::string(field) +
                                            " must start with sk_test_, sk_live_, rk_test_ or rk_live_");
  }
  for (char c : key) {
    if (!isKeyChar(c))
      return ih::sdk::Status::invalidArgument(std::string(field) + " contains invalid characters");
  }
  return test ? KeyMode::kTest : KeyMode::kLive;
}

ih::sdk::Result<KeyMode> publishableKeyMode(std::string_view key, std::string_view field) {
  if (key.size() > kMaxKey)
    return ih::sdk::Status::invalidArgument(std::string(field) + " is longer than 255 characters");
  const bool test = startsWith(key, "pk_test_");
  const bool live = startsWith(key, "pk_live_");
  if ((!test && !live) || key.size() <= 8) {
    return ih::sdk::Status::invalidArgument(std::string(field) + " must start with pk_test_ or pk_live_");
  }
  for (char c : key) {
    if (!isKeyChar(c))
      return ih::sdk::Status::invalidArgument(std::string(field) + " contains invalid characters");
  }
  return test ? KeyMode::kTest : KeyMode::kLive;
}

ih::sdk::Result<KeyMode> checkKeyPair(std::string_view secret_key, std::string_view publishable_key) {
  auto secret = secretKeyMode(secret_key);
  if (!secret) return secret.status();
  auto publishable = publishableKeyMode(publishable_key);
  if (!publishable) return publishable.status();
  if (*secret != *publishable) {
    return ih::sdk::Status::invalidArgument(std::string("secret key is a ") + modeName(*secret) +
                                            " key but publishable key is " + modeName(*publishable));
  }
  return *secret;
}

std::string maskKey(std::string_view key) {
  for (std::string_view prefix : kPrefixes) {
    if (startsWith(key, prefix) && key.size() >= prefix.size() + 4) {
      return std::string(prefix) + "****" + std::string(key.substr(key.size() - 4));
    }
  }
  return "****";
}

std::string maskSecrets(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    bool masked = false;
    if (i == 0 || !isKeyChar(text[i - 1])) {
      for (std::string_view prefix : kPrefixes) {
        if (!startsWith(text.substr(i), prefix)) continue;
        size_t end = i + prefix.size();
        while (end < text.size() && (isKeyChar(text[end]) || text[end] == '*'))
          ++end;
        out += maskKey(text.substr(i, end - i));
        i = end;
        masked = true;
        break;
      }
    }
    if (!masked) out.push_back(text[i++]);
  }
  return out;
}

}  // namespace ih::stripe
