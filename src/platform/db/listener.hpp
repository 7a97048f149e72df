#pragma once
// Wake-ups from committed transactions, across servers: one thread per process LISTENs on a channel;
// a transaction that NOTIFYs with a key (a user's id) bumps that key's generation when it commits.
// Waiters compare generations (no callback, no per-waiter state here): a long-lived stream reads the
// generation, reads the database, and later asks whether the generation moved.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace spectra::db {

class Listener {
 public:
  Listener(std::string conninfo, std::string user, std::string channel);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // How many notifications `key` has had since this process started listening.
  std::uint64_t generation(const std::string& key) const;
  // Whether the listener stopped (the server is stopping): waiters end.
  bool closed() const noexcept;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spectra::db
