// Store write paths, measured apart from HTTP and plugins:
//  1. group commit: N threads each waiting for its own small insert (webhook-like), with batching (max_batch
//     1024) and without (max_batch 1, one commit per write);
//  2. record upserts in pages of 100 ~1 KB Stripe-customer-shaped rows: straight into the record store, and
//     through the records sink a plugin call uses (JSON validation + the same store).
// Both on a real SQLite file with the durable setting users run (synchronous=FULL) unless --no-durable.
// Prints figures; fails only on wrong results (a lost or duplicated write), never on speed.
//   bench_store_writes [--threads 64] [--per-thread 250] [--pages 500] [--no-durable]
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "records/records.h"
#include "store/db.h"
#include "store/record_store.h"
#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
// Process CPU time, all threads: the cost itself when the machine is shared.
double cpuSeconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

struct Args {
  int threads = 64;
  int per_thread = 250;
  int pages = 500;
  bool durable = true;
};

bool parseArgs(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto number = [&](int& out) {
      if (i + 1 >= argc) return false;
      const std::string_view v = argv[++i];
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
      return ec == std::errc() && end == v.data() + v.size() && out > 0;
    };
    if (a == "--threads") {
      if (!number(args.threads)) return false;
    } else if (a == "--per-thread") {
      if (!number(args.per_thread)) return false;
    } else if (a == "--pages") {
      if (!number(args.pages)) return false;
    } else if (a == "--no-durable") {
      args.durable = false;
    } else {
      return false;
    }
  }
  return true;
}

constexpr ih::store::Migration kItems[] = {
    {1, "items", "CREATE TABLE items(id INTEGER PRIMARY KEY, label TEXT NOT NULL)"},
};

bool groupCommit(const std::filesystem::path& dir, const Args& args, size_t max_batch) {
  ih::store::DbOptions options;
  options.path = (dir / ("commit_" + std::to_string(max_batch) + ".db")).string();
  options.max_batch = max_batch;
  options.durable = args.durable;
  auto db = ih::store::openSqlite(options, kItems);
  if (!db.isOk()) {
    std::fprintf(stderr, "open: %s\n", db.status().toString().c_str());
    return false;
  }
  const auto before = (*db)->stats();
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  const double cpu_start = cpuSeconds();
  std::vector<std::thread> threads;
  for (int t = 0; t < args.threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < args.per_thread; ++i) {
        const int id = t * args.per_thread + i;
        ih::Status s = (*db)->writeSync([id](ih::store::sql::Connection& conn) {
          ih::store::sql::Statement q(conn, "INSERT INTO items(id, label) VALUES (?, 'x')");
          q.bind(1, id);
          q.exec();
          return ih::Status::ok();
        });
        if (!s.isOk()) failures++;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  const double seconds = secondsSince(start);
  const double cpu = cpuSeconds() - cpu_start;
  const auto after = (*db)->stats();
  const int writes = args.threads * args.per_thread;
  auto counted = (*db)->read([](ih::store::sql::Connection& c) -> ih::Result<int64_t> {
    ih::store::sql::Statement q(c, "SELECT COUNT(*) FROM items");
    q.executeStep();
    return q.getColumn(0).getInt64();
  });
  std::printf(
      "group commit  max_batch=%-5zu %d writes from %d threads: %.2f s, %.0f writes/s, %.0f per CPU-second, "
      "%.1f writes per commit\n",
      max_batch, writes, args.threads, seconds, writes / seconds, writes / cpu,
      static_cast<double>(after.tasks - before.tasks) / static_cast<double>(after.batches - before.batches));
  if (failures != 0 || !counted.isOk() || *counted != writes) {
    std::fprintf(stderr, "group commit: %d failures, %lld rows stored of %d\n", failures.load(),
                 counted.isOk() ? static_cast<long long>(*counted) : -1LL, writes);
    return false;
  }
  return true;
}

bool recordUpserts(const std::filesystem::path& dir, const Args& args) {
  ih::store::Options options;
  options.path = (dir / "records.db").string();
  options.durable = args.durable;
  auto store = ih::store::Store::open(options);
  if (!store.isOk() || !(*store)->createTenant({"t1", "tenant-1", 1}).isOk()) {
    std::fprintf(stderr, "store: %s\n",
                 store.isOk() ? "cannot create the tenant" : store.status().toString().c_str());
    return false;
  }
  ih::records::Records sink(**store);
  // About 1 KB, shaped like a Stripe customer.
  const std::string data =
      R"({"object":"customer","email":"someone@example.com","name":"Some One","balance":0,"currency":"usd",)"
      R"("metadata":{"plan":"pro","region":"eu"},"address":{"city":"Berlin","country":"DE","line1":"Street 1"},)"
      R"("description":")" +
      std::string(700, 'x') + R"(","delinquent":false,"livemode":false,"created":1700000000})";
  std::vector<std::vector<ih::store::RecordInput>> pages(args.pages);
  std::vector<std::string> json_pages(args.pages);
  for (int p = 0; p < args.pages; ++p) {
    std::string& j = json_pages[p];
    j = "[";
    for (int i = 0; i < 100; ++i) {
      const std::string id = "cus_" + std::to_string(p * 100 + i);
      pages[p].push_back({id, data, 1700000000});
      if (i) j += ',';
      j += R"({"id":")" + id + R"(","updated_at":1700000000,"data":)" + data + "}";
    }
    j += "]";
  }
  const double rows = args.pages * 100.0;

  auto start = Clock::now();
  double cpu_start = cpuSeconds();
  for (const auto& page : pages) {
    if (!sink.recordStore().upsert("t1", "stripe", "customer", page).isOk()) return false;
  }
  const double store_seconds = secondsSince(start);
  const double store_cpu = cpuSeconds() - cpu_start;

  start = Clock::now();
  cpu_start = cpuSeconds();
  for (const auto& page : json_pages) {
    if (!sink.upsert("t1", "stripe", "customer_json", page).isOk()) return false;
  }
  const double sink_seconds = secondsSince(start);
  const double sink_cpu = cpuSeconds() - cpu_start;

  std::printf(
      "record upsert %.0f rows (%zu B data, pages of 100): store %.0f rows/s (%.0f per CPU-second), "
      "sink (JSON validate + store) %.0f rows/s (%.0f per CPU-second)\n",
      rows, data.size(), rows / store_seconds, rows / store_cpu, rows / sink_seconds, rows / sink_cpu);
  auto last = sink.recordStore().listChanges("t1", "stripe", "customer_json", 0, 1);
  if (!last.isOk() || last->empty() || last->front().seq != static_cast<int64_t>(rows) + 1) {
    std::fprintf(stderr, "record upsert: the sink's first change does not follow the store's rows\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parseArgs(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: bench_store_writes [--threads N] [--per-thread N] [--pages N] [--no-durable]\n");
    return 2;
  }
  char pattern[] = "/tmp/ih-bench-store-XXXXXX";
  if (!mkdtemp(pattern)) return 1;
  const std::filesystem::path dir(pattern);
  std::printf("store writes (%s, SQLite %s)\n", args.durable ? "synchronous=FULL" : "synchronous=NORMAL",
              SQLITE_VERSION);
  const bool ok = groupCommit(dir, args, 1024) && groupCommit(dir, args, 1) && recordUpserts(dir, args);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return ok ? 0 : 1;
}
