// examples/server/run_server.cc: flags, the LoopGroup, listeners, signals and shutdown.
#include "examples/server/run_server.h"

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ringloop/runtime/group_listener.h"
#include "ringloop/runtime/loop_group.h"
#include "ringloop/runtime/signals.h"

ABSL_FLAG(int, port, -1, "TCP port to listen on (0: any free port; default: the server's own)");
ABSL_FLAG(std::string, bind, "127.0.0.1", "numeric IPv4 or IPv6 address to listen on");
ABSL_FLAG(std::string, driver, "auto",
          "auto (io_uring if it works here, else epoll; RINGLOOP_DRIVER may decide), uring "
          "or epoll");
ABSL_FLAG(int, threads, 1, "loops (threads), each with its own listener; 0: one per CPU");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "after SIGINT/SIGTERM, how long connections may take to finish before they are cut");

namespace examples::server {
namespace {

// Finished: counts the loops whose ServeListener has returned (any thread).
class Finished {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  // WaitFor: whether `n` loops finished within `timeout`.
  bool WaitFor(size_t n, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return count_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t count_ = 0;
};

// ServeOnGroupLoop: ServeListener on the group's loop that runs it, with that loop's
// control (a free function: its arguments live in its frame).
ringloop::Task<void> ServeOnGroupLoop(ringloop::TcpListener listener, Service* service,
                                      ringloop::LoopGroup* group,
                                      std::vector<std::unique_ptr<LoopControl>>* controls) {
  const size_t i = *group->CurrentIndex();
  co_await ServeListener(std::move(listener), *service, *(*controls)[i], i);
}

// WaitForSignal: the number of the first SIGINT or SIGTERM, read through the loop; or
// -1 if the signals cannot be read.
ringloop::Task<int> WaitForSignal(const char* name) {
  absl::StatusOr<ringloop::SignalSet> signals = ringloop::SignalSet::Create({SIGINT, SIGTERM});
  if (!signals.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, signals.status().ToString().c_str());
    co_return -1;
  }
  const ringloop::Result r = co_await signals->Wait();
  co_return r.ok() ? r.value() : -1;
}

absl::StatusOr<ringloop::DriverChoice> ParseDriver(const std::string& text) {
  if (text == "auto") return ringloop::DriverChoice::kAuto;
  if (text == "uring") return ringloop::DriverChoice::kUring;
  if (text == "epoll") return ringloop::DriverChoice::kEpoll;
  return absl::InvalidArgumentError(
      absl::StrCat("--driver=", text, ": expected auto, uring or epoll"));
}

}  // namespace

int RunServer(Service& service, uint16_t default_port) {
  const char* name = service.name();
  absl::StatusOr<ringloop::DriverChoice> driver = ParseDriver(absl::GetFlag(FLAGS_driver));
  const int port_flag = absl::GetFlag(FLAGS_port);
  const int threads_flag = absl::GetFlag(FLAGS_threads);
  absl::StatusOr<ringloop::SocketAddress> address = ringloop::SocketAddress::Parse(
      absl::GetFlag(FLAGS_bind), port_flag < 0 ? default_port : uint16_t(port_flag));
  absl::Status bad = !driver.ok()        ? driver.status()
                     : port_flag > 65535 ? absl::InvalidArgumentError("--port: over 65535")
                     : threads_flag < 0  ? absl::InvalidArgumentError("--threads: negative")
                     : !address.ok()     ? address.status()
                                         : absl::OkStatus();
  if (!bad.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, std::string(bad.message()).c_str());
    return 1;
  }
  // Before any thread exists: the group's threads inherit the mask, so the signals
  // wait for the SignalSet instead of ending the process.
  if (absl::Status s = ringloop::BlockSignals({SIGINT, SIGTERM}); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, s.ToString().c_str());
    return 1;
  }
  ringloop::LoopGroupOptions options;
  options.threads =
      threads_flag == 0 ? std::max(1u, std::thread::hardware_concurrency()) : size_t(threads_flag);
  options.loop.driver = *driver;
  absl::StatusOr<std::unique_ptr<ringloop::LoopGroup>> group = ringloop::LoopGroup::Create(options);
  if (!group.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, group.status().ToString().c_str());
    return 1;
  }
  const size_t n = (*group)->size();
  Finished finished;
  std::vector<std::unique_ptr<LoopControl>> controls;
  for (size_t i = 0; i < n; ++i) {
    controls.push_back(std::make_unique<LoopControl>());
    controls.back()->on_finished = [&finished] { finished.Add(); };
  }
  ringloop::LoopGroup* g = group->get();
  absl::StatusOr<uint16_t> port =
      ringloop::ListenOnEachLoop(*g, *address, [&](ringloop::TcpListener listener) {
        return ServeOnGroupLoop(std::move(listener), &service, g, &controls);
      });
  if (!port.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, port.status().ToString().c_str());
    return 1;
  }
  address->set_port(*port);
  std::fprintf(stderr, "%s: listening on %s (%zu thread%s, driver=%s)\n", name,
               address->ToString().c_str(), n, n == 1 ? "" : "s",
               std::string(g->loop(0).driver_name()).c_str());
  const int signo = g->BlockOn(0, WaitForSignal(name));
  std::fprintf(stderr, "%s: %s: draining\n", name,
               signo == SIGINT    ? "SIGINT"
               : signo == SIGTERM ? "SIGTERM"
                                  : "no signals");
  for (size_t i = 0; i < n; ++i) {
    g->Post(i, [control = controls[i].get()] { control->Drain(); });
  }
  const absl::Duration grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (!finished.WaitFor(n, grace)) {
    std::fprintf(stderr, "%s: connections still open after %s: closing them\n", name,
                 absl::FormatDuration(grace).c_str());
  }
  g->Stop();  // cancels what is left, then each loop drains its ops
  g->Join();
  std::fprintf(stderr, "%s: stopped\n", name);
  return 0;
}

}  // namespace examples::server
