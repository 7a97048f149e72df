#pragma once
// The notification dispatcher: two threads, each with a connection of its own and leader-elected by a
// session advisory lock (like the audit sequencer), so that N servers notify once.
//   * The follower reads each organization's audit chain past its cursor (events linked in commit
//     order: never one from a rolled-back transaction) and, in one transaction with the cursor's
//     advance, writes the notifications, the webhook deliveries and the immediate mail of the actions
//     named in notification_event_sources, then NOTIFYs the streams of the people reached. It also
//     writes the calibration notices (an audit event each, so they travel the same road) and the daily
//     digests.
//   * The sender posts due webhook deliveries (Standard Webhooks, outbound::post) and sends due mail
//     (SMTP_URL), recording each attempt and scheduling retries.
// Nothing here runs on the I/O threads.
#include <cstdint>
#include <memory>
#include <string>

#include "platform/config.hpp"

namespace spectra::notifications {

// The channel the follower NOTIFYs, with the user's id as the payload (db::Listener).
inline constexpr const char* channel = "spectra_notifications";

class Dispatcher {
 public:
  Dispatcher(std::string conninfo, std::string user, const Config& config);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // For metrics: since start, this process's webhook attempts and mail by outcome; when this process
  // leads the sending (`sending`), at its last round: the organizations with sends due, and the
  // pending webhook deliveries and mail of every organization (and how many of them are due).
  struct Stats {
    bool sending = false;
    std::int64_t organizations_due = 0;
    std::uint64_t webhooks_delivered = 0, webhooks_failed = 0, mail_sent = 0, mail_failed = 0;
    std::int64_t webhooks_pending = 0, webhooks_due = 0, mail_pending = 0, mail_due = 0;
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spectra::notifications
