// Stripe API key format checks and masking. Pure functions, thread-safe. Messages never contain a key.
#pragma once

#include <string>
#include <string_view>

#include "ih/plugin.hpp"

namespace ih::stripe {

enum class KeyMode { kTest, kLive };

// Mode of a secret or restricted key (sk_test_, sk_live_, rk_test_, rk_live_); invalid-argument otherwise,
// naming `field`.
ih::sdk::Result<KeyMode> secretKeyMode(std::string_view key, std::string_view field = "secret_key");
// Mode of a publishable key (pk_test_, pk_live_); invalid-argument otherwise.
ih::sdk::Result<KeyMode> publishableKeyMode(std::string_view key, std::string_view field = "publishable_key");
// Both formats, then the same mode ("secret key is a test key but publishable key is live").
ih::sdk::Result<KeyMode> checkKeyPair(std::string_view secret_key, std::string_view publishable_key);

// "sk_test_****abcd": the prefix up to the mode, then the last four characters. Short or unknown keys
// become "****".
std::string maskKey(std::string_view key);
// `text` with every Stripe-key-shaped token (sk_/rk_/pk_/whsec_...) masked.
std::string maskSecrets(std::string_view text);

}  // namespace ih::stripe
