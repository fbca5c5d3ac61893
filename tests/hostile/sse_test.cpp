// Hostile event-stream clients (GET /api/events/stream): bad cursors, revoked keys (issue 14 item 7), a
// tenant opening streams without end, and readers that never read.
#include "hostile_env.h"

#include "app/app.h"
#include "events/events.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace ih::hostile {
namespace {

// An open SSE connection read on demand.
class Stream {
 public:
  Stream(int port, const std::string& key, const Headers& extra = {}, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string request =
        "GET /api/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n";
    for (const auto& [k, v] : extra)
      request += k + ": " + v + "\r\n";
    request += "\r\n";
    REQUIRE(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
  }
  ~Stream() { ::close(fd_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Reads what is available within `wait`; false once the server closed the connection.
  bool read(std::chrono::milliseconds wait = std::chrono::milliseconds(200)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return open_;
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      open_ = false;
      return false;
    }
    data_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  // Reads until the server closes the stream or `limit` passes; true when it closed.
  bool readUntilClosed(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (open_ && std::chrono::steady_clock::now() < deadline)
      read(std::chrono::milliseconds(50));
    return !open_;
  }
  const std::string& data() const { return data_; }
  bool open() const { return open_; }

 private:
  int fd_ = -1;
  std::string data_;
  bool open_ = true;
};

}  // namespace

TEST_CASE("sse: Last-Event-ID and after that are not event ids are 400 - no stream is opened",
          "[hostile][sse]") {
  Env env;
  for (const std::string& id : {std::string("-1"), std::string("abc"), std::string("99999999999999999999"),
                                std::string("1.5"), std::string(40000, '9')}) {
    INFO("Last-Event-ID: " << id.substr(0, 30));
    Headers h = env.a.auth();
    h.emplace_back("Last-Event-ID", id);
    CHECK_ERROR(env.get("/api/events/stream", h), 400, "invalid_request");
    CHECK_ERROR(env.get("/api/events/stream?after=" + id, env.a.auth()), 400, "invalid_request");
  }
  CHECK_ERROR(env.get("/api/events/stream?type=" + std::string(101, 't'), env.a.auth()), 400,
              "invalid_request");
  CHECK(env.healthy());
}

TEST_CASE("sse: a stream whose key is revoked is closed within seconds - reopening it is 401",
          "[hostile][sse]") {
  Env env;
  Stream stream(env.port(), env.a.key);
  REQUIRE(eventually([&] {
    stream.read();
    return stream.data().find(": stream open") != std::string::npos;
  }));
  const std::string key_id = env.get("/api/whoami", env.a.auth()).body_json["key_id"];
  REQUIRE(env.del("/api/admin/tenants/acme/keys/" + key_id, env.admin()).status == 200);
  CHECK(eventually(
      [&] {
        stream.read();
        return !stream.open();
      },
      std::chrono::seconds(20)));
  CHECK_ERROR(env.get("/api/events/stream", env.a.auth()), 401, "unauthenticated");
  CHECK(env.healthy());
}

TEST_CASE("sse: a tenant opening streams without end gets 429 too_many_streams - others still stream",
          "[hostile][sse]") {
  Env env;
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < 100; ++i)
    streams.push_back(std::make_unique<Stream>(env.port(), env.a.key));
  for (auto& s : streams)
    REQUIRE(eventually([&] {
      s->read();
      return s->data().find(": stream open") != std::string::npos;
    }));
  Answer refused = env.get("/api/events/stream", env.a.auth());
  CHECK_ERROR(refused, 429, "too_many_streams");  // this tenant's cap; the host-wide cap is 503
  CHECK(refused.header("Retry-After") == "5");
  Stream other(env.port(), env.b.key);
  CHECK(eventually([&] {
    other.read();
    return other.data().find(": stream open") != std::string::npos;
  }));
  CHECK(env.healthy());
}

TEST_CASE(
    "sse: a reader that never reads does not hold the host - its stream is dropped past the unread limit",
    "[hostile][sse]") {
  Env env;
  Stream stuck(env.port(), env.a.key, {}, 4096);  // tiny receive buffer, never read
  Stream reader(env.port(), env.a.key);
  REQUIRE(eventually([&] {
    reader.read();
    return reader.data().find(": stream open") != std::string::npos;
  }));
  // ~20 MB of events for tenant A, emitted through the real events module: far more than the socket buffers
  // and the 4 MiB a stream may leave unread. The reader reads all along on its own thread, and the emitter
  // stays within 1 MB of it, so only the stuck stream falls behind.
  const std::string last = "\"i\":299";
  std::atomic<size_t> received{0};
  std::atomic<bool> reader_done{false};
  std::thread reading([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (reader.open() && std::chrono::steady_clock::now() < deadline) {
      reader.read(std::chrono::milliseconds(50));
      const size_t size = reader.data().size();
      received.store(size);
      if (reader.data().find(last, size > 200000 ? size - 200000 : 0) != std::string::npos) break;
    }
    reader_done.store(true);
  });
  const std::string big(64000, 'x');
  bool emitted = true;
  for (int i = 0; i < 300 && emitted; ++i) {
    while (!reader_done.load() && received.load() + (1u << 20) < static_cast<size_t>(i) * big.size())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    emitted = env.host()
                  .app()
                  .events()
                  .emit(env.a.id, "hooks", "test.big", json{{"i", i}, {"pad", big}}.dump())
                  .isOk();
  }
  reading.join();
  REQUIRE(emitted);
  CHECK(env.healthy());
  // The reader that reads got everything; the one that does not was cut off (it would reconnect with
  // Last-Event-ID).
  CHECK(reader.data().find(last) != std::string::npos);
  // Only now does the stuck client read: what the host had queued for it, then the end of the stream, never
  // the last events.
  CHECK(stuck.readUntilClosed(std::chrono::seconds(60)));
  CHECK(stuck.data().find(last) == std::string::npos);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
