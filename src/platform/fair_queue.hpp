#pragma once
// The waiting room of a shared pool: jobs queued per organization and, within one, per user; taken
// round-robin across the organizations that wait, and within one across its users, so that a flood
// from one organization (or one user) waits behind itself. Each organization and each user may hold
// only part of the room. Not thread-safe: its owner locks.
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace spectra {

// Whose work a job is: its organization, and the user (or client address) within it.
struct WorkShare {
  std::string organization;
  std::string user;
};

class FairQueue {
 public:
  using Job = std::function<void()>;
  struct Limits {
    std::size_t total = 64;             // jobs waiting, all organizations together
    std::size_t per_organization = 16;  // one organization's
    std::size_t per_user = 8;           // one user's
  };
  explicit FairQueue(Limits limits) : limits_(limits) {}

  // Queues the job; false (and nothing queued) when the room, the organization or the user is full.
  bool push(const std::string& organization, const std::string& user, Job job);
  // The next job in turn, or nothing when none waits.
  std::optional<Job> pop();
  std::size_t size() const noexcept { return size_; }
  void clear();

 private:
  struct Organization {
    std::map<std::string, std::deque<Job>> users;
    std::deque<std::string> turn;  // users with waiting jobs, next first
    std::size_t size = 0;
  };
  Limits limits_;
  std::map<std::string, Organization> organizations_;
  std::deque<std::string> turn_;  // organizations with waiting jobs, next first
  std::size_t size_ = 0;
};

}  // namespace spectra
