#pragma once
// The audit chain's cryptography, as plain functions: the canonical encoding of an event, its keyed
// link, and signed checkpoints of a chain's head. No database here; the sequencer and the verifier
// share these, so what one writes the other checks.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spectra::audit {

// Every field of an event that the chain covers, as text (nullopt is NULL). created_at is UTC with
// microseconds ("2026-11-26T20:41:00.123456Z"); JSON fields are PostgreSQL's jsonb text.
struct EventFields {
  std::string organization_id, id;
  std::int64_t seq = 0;
  std::optional<std::string> actor_id;
  std::string actor_type, action;
  std::optional<std::string> entity_type, entity_id, before, after, request_id, client_addr;
  std::string extra_metadata = "{}";
  std::string created_at;
};

// A version tag, then each field as a 4-byte big-endian length and its bytes (NULL: 0xFFFFFFFF and
// nothing), so that no two different events encode alike.
std::string canonical(const EventFields& e);
// HMAC-SHA256(key, prev_hash || canonical(e)); prev_hash is empty for the first event.
std::string link_hash(std::string_view key, std::string_view prev_hash, const EventFields& e);

// A signed statement of a chain's head, to be kept outside the database.
struct Checkpoint {
  std::string organization_id;
  std::int64_t seq = 0;       // 0: an empty chain
  std::string hash_hex;       // "" for an empty chain
  std::string signed_at;      // RFC 3339, UTC
  std::string key_id;
  std::string signature;      // base64 (Ed25519, detached)
};

// The Ed25519 key that signs checkpoints, derived from the audit key (one secret to keep).
class CheckpointSigner {
 public:
  explicit CheckpointSigner(std::string_view audit_key);
  const std::string& key_id() const noexcept { return key_id_; }
  const std::string& public_key() const noexcept { return public_key_; }  // 32 raw bytes
  Checkpoint sign(std::string organization_id, std::int64_t seq, std::string hash_hex, std::string signed_at) const;
  // {"keys":[{"key_id","algorithm":"Ed25519","public_key"}]} (public key in base64).
  std::string keys_json() const;

 private:
  std::string secret_key_, public_key_, key_id_;
};

// The bytes a checkpoint's signature covers.
std::string checkpoint_message(const Checkpoint& c);
bool checkpoint_signature_valid(const Checkpoint& c, std::string_view public_key);
std::string to_json(const Checkpoint& c);
// One JSON line of a checkpoint file; nullopt when it is not a checkpoint.
std::optional<Checkpoint> checkpoint_from_json(std::string_view line);

}  // namespace spectra::audit
