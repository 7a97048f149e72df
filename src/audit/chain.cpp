#include "audit/chain.hpp"

#include <sodium.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "platform/crypto.hpp"

namespace json = boost::json;

namespace spectra::audit {
namespace {

void put(std::string& out, const std::optional<std::string>& field) {
  if (!field) {
    out.append(4, '\xff');
    return;
  }
  const auto n = static_cast<std::uint32_t>(field->size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xff);
  out += *field;
}

constexpr std::string_view signing_label = "spectra-audit-checkpoint-signing-key-v1";

}  // namespace

std::string canonical(const EventFields& e) {
  std::string out = "spectra-audit-event-v1";
  put(out, e.organization_id);
  put(out, e.id);
  put(out, std::to_string(e.seq));
  put(out, e.actor_id);
  put(out, e.actor_type);
  put(out, e.action);
  put(out, e.entity_type);
  put(out, e.entity_id);
  put(out, e.before);
  put(out, e.after);
  put(out, e.request_id);
  put(out, e.client_addr);
  put(out, e.extra_metadata);
  put(out, e.created_at);
  return out;
}

std::string link_hash(std::string_view key, std::string_view prev_hash, const EventFields& e) {
  std::string data(prev_hash);
  data += canonical(e);
  return crypto::hmac_sha256(key, data);
}

CheckpointSigner::CheckpointSigner(std::string_view audit_key) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  const std::string seed = crypto::hmac_sha256(audit_key, signing_label);
  public_key_.resize(crypto_sign_PUBLICKEYBYTES);
  secret_key_.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(public_key_.data()),
                           reinterpret_cast<unsigned char*>(secret_key_.data()),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  key_id_ = crypto::to_hex(crypto::sha256(public_key_)).substr(0, 16);
}

Checkpoint CheckpointSigner::sign(std::string organization_id, std::int64_t seq, std::string hash_hex,
                                  std::string signed_at) const {
  Checkpoint c{std::move(organization_id), seq, std::move(hash_hex), std::move(signed_at), key_id_, {}};
  const std::string msg = checkpoint_message(c);
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                       reinterpret_cast<const unsigned char*>(secret_key_.data()));
  c.signature = crypto::base64_encode(sig);
  return c;
}

std::string CheckpointSigner::keys_json() const {
  json::object key{{"key_id", key_id_}, {"algorithm", "Ed25519"}, {"public_key", crypto::base64_encode(public_key_)}};
  return json::serialize(json::object{{"keys", json::array{std::move(key)}}});
}

std::string checkpoint_message(const Checkpoint& c) {
  return "spectra-audit-checkpoint-v1\n" + c.organization_id + "\n" + std::to_string(c.seq) + "\n" + c.hash_hex + "\n" +
         c.signed_at + "\n" + c.key_id;
}

bool checkpoint_signature_valid(const Checkpoint& c, std::string_view public_key) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) return false;
  const auto sig = crypto::base64_decode(c.signature);
  if (!sig || sig->size() != crypto_sign_BYTES) return false;
  const std::string msg = checkpoint_message(c);
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

std::string to_json(const Checkpoint& c) {
  json::object o{{"organization_id", c.organization_id},
                 {"seq", c.seq},
                 {"hash", c.hash_hex.empty() ? json::value(nullptr) : json::value(c.hash_hex)},
                 {"signed_at", c.signed_at},
                 {"key_id", c.key_id},
                 {"signature", c.signature}};
  return json::serialize(o);
}

std::optional<Checkpoint> checkpoint_from_json(std::string_view line) {
  boost::system::error_code ec;
  auto v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto text = [&](const char* k) -> std::optional<std::string> {
    const auto* f = o.if_contains(k);
    if (!f || !f->is_string()) return std::nullopt;
    return std::string(f->as_string());
  };
  const auto* seq = o.if_contains("seq");
  const auto* hash = o.if_contains("hash");
  auto org = text("organization_id"), at = text("signed_at"), kid = text("key_id"), sig = text("signature");
  if (!org || !at || !kid || !sig || !seq || !seq->is_int64() || !hash || !(hash->is_string() || hash->is_null()))
    return std::nullopt;
  return Checkpoint{*org, seq->as_int64(), hash->is_string() ? std::string(hash->as_string()) : std::string(), *at, *kid, *sig};
}

}  // namespace spectra::audit
