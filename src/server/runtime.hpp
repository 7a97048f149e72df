#pragma once
// Starting and stopping the servers: the I/O threads, the pool, the two listeners (and METRICS_PORT's),
// graceful shutdown.
#include <cstdint>
#include <memory>
#include <string>

#include "platform/config.hpp"

namespace spectra {

struct ServeOptions {
  bool lims = true;
  bool analysis = true;
};

// The owner connection string: DATABASE_URL, or the private development cluster (started on demand).
std::string owner_database_url(const Config& config);

class Runtime {
 public:
  Runtime(Config config, ServeOptions options);
  ~Runtime();
  // Checks the schema, binds the ports and starts the I/O threads; throws with a clear message.
  void start();
  // Stop accepting, end notification streams (with a retry hint), let requests in flight finish (up to
  // SHUTDOWN_GRACE_SECONDS), link the audit events they wrote, close the pools, join the threads.
  void stop();
  // Blocks until SIGINT or SIGTERM, then stops gracefully.
  void run_until_signal();
  std::uint16_t lims_port() const;
  // Requests being handled right now, on both listeners.
  int in_flight() const;
  std::uint16_t analysis_port() const;
  std::uint16_t metrics_port() const;  // 0 unless METRICS_PORT is set

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spectra
