// examples/resp/resp_service.h: RespService, the RESP2 key-value protocol
// (connection.h) as a server::Service, for resp_server.cc.
//
// One Store holds the keyspace of the whole server. With several loops (threads), a
// mutex guards it, taken once per read (all the requests the read completes run
// under one lock) and once per active-expiry round; with one loop there is no lock.
// Loop 0 runs the active expiry (Store::ActiveExpire) every expire_period, so that
// keys nobody reads again do not hold memory; reads expire keys lazily either way.
//
// Threads: the service is shared by the group's loops; a Connection belongs to the
// loop of its connection.
#ifndef EXAMPLES_RESP_RESP_SERVICE_H_
#define EXAMPLES_RESP_RESP_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "absl/time/time.h"
#include "examples/resp/connection.h"
#include "examples/resp/store.h"
#include "examples/server/server.h"

namespace examples::resp {

// RespServiceOptions: how the service runs.
struct RespServiceOptions {
  ConnectionLimits limits;
  // locked: several loops share the store (a mutex guards it).
  bool locked = false;
  // expire_period: how often loop 0 removes expired keys.
  absl::Duration expire_period = absl::Milliseconds(100);
  // expire_budget: the most keys one period removes.
  size_t expire_budget = 20'000;
};

// RespService: see the file comment.
class RespService final : public server::Service {
 public:
  using Connection = resp::Connection;

  explicit RespService(const RespServiceOptions& options) : options_(options) {}

  const char* name() const override { return "resp_server"; }
  ringloop::Task<void> Serve(ringloop::TcpStream stream, server::LoopContext& context) override;
  // Background: the active expiry, on loop 0.
  ringloop::Task<void> Background(server::LoopContext& context) override;

  // The protocol ServeClientStream drives.
  Connection Make();
  void Feed(Connection& c, std::string_view bytes, int64_t now_ms);
  void Resume(Connection& c, int64_t now_ms);

  // keys_with_expiry: keys with a deadline still in the store, expired ones not yet
  // removed included (tests: active expiry removes them without a read).
  size_t keys_with_expiry();
  // expired_actively: keys the active expiry has removed so far.
  uint64_t expired_actively() const { return expired_actively_.load(std::memory_order_relaxed); }

 private:
  // Lock: the store's lock when the service is locked, else nothing.
  class Lock {
   public:
    explicit Lock(RespService& s) : mu_(s.options_.locked ? &s.mu_ : nullptr) {
      if (mu_ != nullptr) mu_->lock();
    }
    ~Lock() {
      if (mu_ != nullptr) mu_->unlock();
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    std::mutex* mu_;
  };

  const RespServiceOptions options_;
  std::mutex mu_;
  Store store_;  // guarded by mu_ when options_.locked
  std::atomic<int64_t> next_client_id_{1};
  std::atomic<uint64_t> expired_actively_{0};
};

}  // namespace examples::resp

#endif  // EXAMPLES_RESP_RESP_SERVICE_H_
