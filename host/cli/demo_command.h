// `ihost demo [--data-dir DIR] [--port N] [--double-port N]`: the whole product on one machine, no Stripe
// account. Starts the built-in Stripe test double and a host (SQLite and a generated 0600 vault key file
// under the data dir, plugins from <dir of the ihost binary>/plugins), creates tenant "demo", connects Stripe
// BYOK with the double's test keys, runs setup (catalog + webhook endpoint at this host), creates an invoice
// and pays it in the double, waits for the signed webhook to turn the invoice record to paid and for the
// invoice.updated event, then prints URLs, the admin token, the tenant API key and curl lines, and serves
// until SIGINT/SIGTERM (clean stop, exit 0).
//
// A later run on the same data dir reuses the tenant, its connection and the paid invoice (no duplicates);
// the tenant's demo API key is kept sealed by the vault in <data dir>/demo-key.sealed so it can be shown
// again. The double keeps its state in memory: its catalog and webhook endpoint are re-provisioned each run.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace ih::cli {

// `args` is the whole command line after the program name, starting with "demo". Exit codes as cli.h:
// 0 stopped by a signal after a successful start, 1 a step failed, 2 usage.
int runDemoCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ih::cli
