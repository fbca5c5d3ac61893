// Connect OAuth (connect.stripe.com) for Standard accounts: authorize page, token exchange, refresh,
// deauthorize. REQUIRES Impl::mu held.
#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

constexpr int64_t kCodeLifetimeS = 300;

Reply oauthError(int status, const std::string& error, const std::string& description) {
  Reply r;
  r.status = status;
  r.body = {{"error", error}, {"error_description", description}};
  return r;
}

Reply redirect(const std::string& location) {
  Reply r;
  r.status = 302;
  r.headers.emplace_back("Location", location);
  r.content_type = "text/html; charset=utf-8";
  r.raw = "<!doctype html><a href=\"" + location + "\">Redirecting</a>";
  return r;
}

std::string withQuery(const std::string& base,
                      const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out = base;
  char sep = base.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    out += sep + k + "=" + detail::urlEncode(v);
    sep = '&';
  }
  return out;
}

}  // namespace

Reply StripeDouble::Impl::routeOAuth(const httplib::Request& req, const std::string& path,
                                     const json& params) {
  const int64_t now = clock();
  // Resolves the platform from a secret key (Bearer/Basic or client_secret=).
  auto platformFromAuth = [&]() -> Account* {
    std::string key = str(params, "client_secret");
    std::string auth = req.get_header_value("Authorization");
    if (key.empty() && auth.rfind("Bearer ", 0) == 0) key = auth.substr(7);
    auto it = keys.find(key);
    if (key.empty() || it == keys.end()) return nullptr;
    return account(it->second.account_id);
  };

  if ((path == "/oauth/authorize" || path == "/express/oauth/authorize") && req.method == "GET") {
    const std::string client_id = str(params, "client_id");
    auto client = oauth_clients.find(client_id);
    if (client == oauth_clients.end())
      return oauthError(400, "invalid_client", "No such application: '" + client_id + "'");
    std::string redirect_uri = str(params, "redirect_uri");
    if (redirect_uri.empty()) redirect_uri = client->second.redirect_uri;
    if (redirect_uri.empty())
      return oauthError(400, "invalid_redirect_uri", "No redirect URI registered for this application.");
    if (!client->second.redirect_uri.empty() && redirect_uri != client->second.redirect_uri)
      return oauthError(400, "invalid_redirect_uri",
                        "Invalid redirect URI '" + redirect_uri +
                            "'. Ensure this uri exactly matches one of the uris "
                            "specified in your application settings");
    const std::string state = str(params, "state");
    const std::string response_type = str(params, "response_type");
    if (response_type != "code")
      return redirect(
          withQuery(redirect_uri, {{"error", "unsupported_response_type"},
                                   {"error_description", "Only 'code' response_type is supported"},
                                   {"state", state}}));
    std::string scope = str(params, "scope");
    if (scope.empty()) scope = "read_only";
    if (scope != "read_only" && scope != "read_write")
      return redirect(withQuery(
          redirect_uri,
          {{"error", "invalid_scope"}, {"error_description", "Invalid scope: " + scope}, {"state", state}}));
    const std::string decision = str(params, "auto");
    if (decision == "deny")
      return redirect(withQuery(redirect_uri, {{"error", "access_denied"},
                                               {"error_description", "The user denied your request"},
                                               {"state", state}}));
    if (decision == "approve") {
      // `existing=acct_…` stands for a user who signs in to an account that is already connected to this
      // platform (Stripe then reuses it); otherwise the double creates a fresh Standard account.
      Account* reused = nullptr;
      if (const std::string existing = str(params, "existing"); !existing.empty()) {
        reused = account(existing);
        if (reused == nullptr || reused->platform_id != client->second.account_id)
          return redirect(withQuery(redirect_uri, {{"error", "invalid_request"},
                                                   {"error_description", "No such account: " + existing},
                                                   {"state", state}}));
        reused->deauthorized = false;
      }
      Account& connected = reused ? *reused : newAccount(client->second.account_id);
      if (params.contains("stripe_user") && params["stripe_user"].is_object()) {
        const json& su = params["stripe_user"];
        if (su.contains("email")) connected.obj["email"] = su["email"];
        if (su.contains("country")) connected.obj["country"] = su["country"];
        if (su.contains("url")) connected.obj["business_profile"]["url"] = su["url"];
      }
      connected.seq = nextSeq();
      const std::string code = "ac_" + detail::randomTail(32);
      oauth_codes[code] = {client_id, client->second.account_id, connected.id,
                           scope,     now + kCodeLifetimeS,      false};
      json application = {{"id", client_id}, {"object", "application"}, {"name", nullptr}};
      emitEventFor(connected, "account.application.authorized", application, nullptr, "", std::nullopt, now);
      return redirect(withQuery(redirect_uri, {{"code", code}, {"scope", scope}, {"state", state}}));
    }
    // Consent page: links re-enter this endpoint with auto=approve|deny.
    std::string base = "/oauth/authorize?" + req.target.substr(req.target.find('?') + 1);
    if (req.target.find('?') == std::string::npos) base = "/oauth/authorize?";
    Reply r;
    r.content_type = "text/html; charset=utf-8";
    r.raw =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Connect with Stripe "
        "(double)</title></head>"
        "<body><h1>Connect your Stripe account</h1><p>Application " +
        htmlEscape(client_id) + " requests <b>" + htmlEscape(scope) +
        "</b> access.</p><p><a id=\"connect\" href=\"" + htmlEscape(base + "&auto=approve") +
        "\">Connect</a> <a id=\"deny\" href=\"" + htmlEscape(base + "&auto=deny") +
        "\">Deny</a></p></body></html>";
    return r;
  }

  if (path == "/oauth/token" && req.method == "POST") {
    Account* platform = platformFromAuth();
    if (!platform)
      return oauthError(
          401, "invalid_client",
          "No authentication was provided. Send your secret API key using the Authorization header, or "
          "as a client_secret POST parameter.");
    if (auto unknown = checkOAuthParams(req.method, path, params)) return *unknown;
    const std::string grant = str(params, "grant_type");
    std::string connected_id, scope;
    if (grant == "authorization_code") {
      const std::string code = str(params, "code");
      if (code.empty()) return oauthError(400, "invalid_request", "No authorization code provided");
      auto it = oauth_codes.find(code);
      if (it == oauth_codes.end())
        return oauthError(400, "invalid_grant", "Authorization code does not exist: " + code);
      if (it->second.platform_id != platform->id)
        return oauthError(400, "invalid_grant", "Authorization code provided does not belong to you");
      if (it->second.used)
        return oauthError(
            400, "invalid_grant",
            "This authorization code has already been used. All tokens issued with this code have been "
            "revoked.");
      if (it->second.expires_at < now)
        return oauthError(400, "invalid_grant", "Authorization code expired: " + code);
      it->second.used = true;
      connected_id = it->second.account_id;
      scope = it->second.scope;
    } else if (grant == "refresh_token") {
      const std::string token = str(params, "refresh_token");
      auto it = refresh_tokens.find(token);
      if (it == refresh_tokens.end() || it->second.first != platform->id)
        return oauthError(400, "invalid_grant", "Invalid refresh token: " + token);
      connected_id = it->second.second;
      scope = str(params, "scope").empty() ? "read_write" : str(params, "scope");
    } else {
      return oauthError(400, "unsupported_grant_type", "Unsupported grant type: " + grant);
    }
    Account* connected = account(connected_id);
    if (!connected || connected->deauthorized)
      return oauthError(400, "invalid_grant", "The account has been disconnected from your application.");
    const std::string access = "sk_test_" + detail::randomTail(40);
    keys[access] = {connected_id, false};
    std::string refresh = str(params, "refresh_token");
    if (grant == "authorization_code") {
      refresh = "rt_" + detail::randomTail(40);
      refresh_tokens[refresh] = {platform->id, connected_id};
    }
    Reply r;
    r.body = {{"access_token", access},
              {"livemode", false},
              {"refresh_token", refresh},
              {"scope", scope},
              {"stripe_publishable_key", "pk_test_" + detail::randomTail(40)},
              {"stripe_user_id", connected_id},
              {"token_type", "bearer"}};
    return r;
  }

  if (path == "/oauth/deauthorize" && req.method == "POST") {
    Account* platform = platformFromAuth();
    if (!platform)
      return oauthError(401, "invalid_client", "No authentication was provided. Send your secret API key.");
    if (auto unknown = checkOAuthParams(req.method, path, params)) return *unknown;
    const std::string client_id = str(params, "client_id");
    const std::string user = str(params, "stripe_user_id");
    auto client = oauth_clients.find(client_id);
    if (client == oauth_clients.end() || client->second.account_id != platform->id)
      return oauthError(400, "invalid_client", "No such application: '" + client_id + "'");
    Account* connected = account(user);
    if (!connected || connected->platform_id != platform->id || connected->deauthorized)
      return oauthError(400, "invalid_client",
                        "This application is not connected to stripe account " + user +
                            ", or that account does not exist.");
    connected->deauthorized = true;
    for (auto it = keys.begin(); it != keys.end();)
      it = it->second.account_id == user ? keys.erase(it) : std::next(it);
    for (auto it = refresh_tokens.begin(); it != refresh_tokens.end();)
      it = it->second.second == user ? refresh_tokens.erase(it) : std::next(it);
    json application = {{"id", client_id}, {"object", "application"}, {"name", nullptr}};
    emitEventFor(*connected, "account.application.deauthorized", application, nullptr, "", std::nullopt, now);
    Reply r;
    r.body = {{"stripe_user_id", user}};
    return r;
  }
  return oauthError(404, "invalid_request", "Unknown OAuth endpoint " + req.method + " " + path);
}

}  // namespace ih::stripe_double
