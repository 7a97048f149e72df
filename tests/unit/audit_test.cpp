// The audit chain's cryptography without a database: the canonical encoding, keyed links, and signed
// checkpoints.
#include <gtest/gtest.h>

#include "audit/chain.hpp"
#include "platform/crypto.hpp"

using namespace spectra;
using namespace spectra::audit;

namespace {
EventFields event() {
  EventFields e;
  e.organization_id = "3f1c0e64-7a52-4a4e-9b1f-1d2c3b4a5e6f";
  e.id = "0b0c8f1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e";
  e.seq = 7;
  e.actor_id = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
  e.actor_type = "user";
  e.action = "user.update";
  e.entity_type = "user";
  e.entity_id = e.actor_id;
  e.before = R"({"full_name": "A"})";
  e.after = R"({"full_name": "B"})";
  e.request_id = "req-1";
  e.client_addr = "127.0.0.1";
  e.created_at = "2026-11-27T03:00:00.123456Z";
  return e;
}
const std::string key = "unit-test-audit-key-0123456789-abcdefghijklmnop";
}  // namespace

TEST(AuditEncoding, FieldBoundariesAndNullsCannotBeConfused) {
  auto a = event(), b = event();
  a.action = "user.up";
  a.entity_type = "dateuser";
  b.action = "user.update";
  b.entity_type = "user";
  EXPECT_NE(canonical(a), canonical(b));  // "user.up|dateuser" vs "user.update|user" join alike with no lengths
  auto n = event(), empty = event();
  n.request_id = std::nullopt;
  empty.request_id = "";
  EXPECT_NE(canonical(n), canonical(empty));
  EXPECT_EQ(canonical(event()), canonical(event()));
}

TEST(AuditEncoding, EveryFieldIsCovered) {
  const auto base = link_hash(key, "", event());
  std::vector<std::function<void(EventFields&)>> edits = {
      [](auto& e) { e.organization_id[0] = '4'; }, [](auto& e) { e.id[0] = '1'; }, [](auto& e) { e.seq = 8; },
      [](auto& e) { e.actor_id.reset(); },        [](auto& e) { e.actor_type = "api_key"; },
      [](auto& e) { e.action = "user.create"; }, [](auto& e) { e.entity_type = "api_key"; },
      [](auto& e) { e.entity_id.reset(); },       [](auto& e) { e.before = "{}"; }, [](auto& e) { e.after.reset(); },
      [](auto& e) { e.request_id = "req-2"; },    [](auto& e) { e.client_addr = "10.0.0.1"; },
      [](auto& e) { e.extra_metadata = R"({"a": 1})"; }, [](auto& e) { e.created_at[5] = '2'; }};
  for (std::size_t i = 0; i < edits.size(); ++i) {
    auto e = event();
    edits[i](e);
    EXPECT_NE(link_hash(key, "", e), base) << "edit " << i;
  }
  EXPECT_NE(link_hash(key, std::string(32, 'x'), event()), base);  // the previous link
  EXPECT_NE(link_hash(key + "!", "", event()), base);                // the key
  EXPECT_EQ(link_hash(key, "", event()).size(), 32u);
}

TEST(AuditCheckpoints, SignedHeadsVerifyAndAnyChangeBreaksThem) {
  const CheckpointSigner signer(key);
  EXPECT_EQ(signer.key_id().size(), 16u);
  EXPECT_EQ(CheckpointSigner(key).public_key(), signer.public_key());  // derived, stable
  EXPECT_NE(CheckpointSigner(key + "!").public_key(), signer.public_key());
  const auto c = signer.sign("3f1c0e64-7a52-4a4e-9b1f-1d2c3b4a5e6f", 42, std::string(64, 'a'), "2026-11-27T03:00:00Z");
  EXPECT_TRUE(checkpoint_signature_valid(c, signer.public_key()));
  const auto round = checkpoint_from_json(to_json(c));
  ASSERT_TRUE(round);
  EXPECT_TRUE(checkpoint_signature_valid(*round, signer.public_key()));
  for (auto change : std::vector<std::function<void(Checkpoint&)>>{
           [](auto& x) { x.seq = 41; }, [](auto& x) { x.hash_hex[0] = 'b'; }, [](auto& x) { x.organization_id[0] = '4'; },
           [](auto& x) { x.signed_at = "2026-11-28T03:00:00Z"; }}) {
    auto x = c;
    change(x);
    EXPECT_FALSE(checkpoint_signature_valid(x, signer.public_key()));
  }
  EXPECT_FALSE(checkpoint_signature_valid(c, CheckpointSigner(key + "!").public_key()));
  EXPECT_FALSE(checkpoint_from_json("{\"seq\": 1}"));
  EXPECT_FALSE(checkpoint_from_json("not json"));
  EXPECT_EQ(crypto::base64_decode(crypto::base64_encode("\x01\x02\xff")), std::string("\x01\x02\xff"));
}
