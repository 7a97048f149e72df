#include "platform/fair_queue.hpp"

#include <utility>

namespace spectra {

bool FairQueue::push(const std::string& organization, const std::string& user, Job job) {
  if (size_ >= limits_.total) return false;
  auto& org = organizations_[organization];
  auto& jobs = org.users[user];
  if (org.size >= limits_.per_organization || jobs.size() >= limits_.per_user) {
    if (jobs.empty()) org.users.erase(user);
    if (org.size == 0) organizations_.erase(organization);
    return false;
  }
  if (jobs.empty()) org.turn.push_back(user);
  if (org.size == 0) turn_.push_back(organization);
  jobs.push_back(std::move(job));
  ++org.size;
  ++size_;
  return true;
}

std::optional<FairQueue::Job> FairQueue::pop() {
  if (turn_.empty()) return std::nullopt;
  const std::string organization = std::move(turn_.front());
  turn_.pop_front();
  auto& org = organizations_.at(organization);
  const std::string user = std::move(org.turn.front());
  org.turn.pop_front();
  auto& jobs = org.users.at(user);
  Job job = std::move(jobs.front());
  jobs.pop_front();
  --org.size;
  --size_;
  // Whoever still waits goes to the back of the line.
  if (jobs.empty())
    org.users.erase(user);
  else
    org.turn.push_back(user);
  if (org.size == 0)
    organizations_.erase(organization);
  else
    turn_.push_back(organization);
  return job;
}

void FairQueue::clear() {
  organizations_.clear();
  turn_.clear();
  size_ = 0;
}

}  // namespace spectra
