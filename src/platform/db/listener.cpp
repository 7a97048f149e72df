#include "platform/db/listener.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "platform/db/blocking_connection.hpp"

namespace spectra::db {

struct Listener::Impl {
  std::string conninfo, user, channel;
  mutable std::mutex mutex;
  std::unordered_map<std::string, std::uint64_t> generations;
  std::atomic<bool> stopping{false};
  std::thread thread;

  void bump(const std::string& key) {
    std::lock_guard lock(mutex);
    ++generations[key];
  }
  void bump_all() {
    std::lock_guard lock(mutex);
    for (auto& [key, g] : generations) ++g;
  }

  void run() {
    while (!stopping) {
      try {
        BlockingConnection c(conninfo, user);
        c.exec("LISTEN " + channel);
        // Whatever was missed while (re)connecting: every waiter looks again.
        bump_all();
        while (!stopping)
          for (const auto& key : c.wait_for_notifications(std::chrono::milliseconds(500))) bump(key);
      } catch (const std::exception& e) {
        spdlog::warn("listening on {}: {}; retrying", channel, e.what());
        for (int i = 0; i < 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
};

Listener::Listener(std::string conninfo, std::string user, std::string channel) : impl_(std::make_unique<Impl>()) {
  impl_->conninfo = std::move(conninfo);
  impl_->user = std::move(user);
  impl_->channel = std::move(channel);
  impl_->thread = std::thread([this] { impl_->run(); });
}

Listener::~Listener() { close(); }

void Listener::close() {
  impl_->stopping = true;
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool Listener::closed() const noexcept { return impl_->stopping; }

std::uint64_t Listener::generation(const std::string& key) const {
  std::lock_guard lock(impl_->mutex);
  const auto it = impl_->generations.find(key);
  return it == impl_->generations.end() ? 0 : it->second;
}

}  // namespace spectra::db
