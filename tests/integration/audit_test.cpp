// The audit trail: writers append without a chain lock, the sequencer links in commit order, and
// `spectra audit verify` (keyed hashes, signed checkpoints) detects what someone with write access to
// the database could do to it.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit/audit.hpp"
#include "platform/db/migrations.hpp"
#include "platform/crypto.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

// An organization with a few linked events: logins (1..n) and a rename.
TestOrg org_with_events(std::string& admin_token) {
  auto org = make_org();
  admin_token = login(org.admin());
  login(org.user("engineer"));
  lims("PATCH", "/api/users/" + org.user("viewer").id, admin_token, R"({"full_name":"Renamed"})");
  lims("PATCH", "/api/users/" + org.user("viewer").id, admin_token, R"({"full_name":"Renamed again"})");
  EXPECT_TRUE(wait_for_audit_links(org.id));
  return org;
}

audit::ChainReport verify_org(const std::string& org, const std::vector<audit::Checkpoint>& kept = {}) {
  auto r = audit::verify(owner(), org, test_audit_key(), kept);
  EXPECT_EQ(r.size(), 1u);
  return r.at(0);
}

std::int64_t last_seq(const std::string& org) {
  return count("SELECT max(seq) FROM audit_events WHERE organization_id = $1", db::Params(org));
}

std::string cli_env() {
  return "DATABASE_URL='" + Harness::get().owner_dsn() + "' AUDIT_KEY='" + test_audit_key() + "' ";
}

}  // namespace

TEST(AuditChain, SixteenConcurrentWritersLeaveAGapFreeChain) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  ASSERT_TRUE(wait_for_audit_links(org.id));
  const auto before = count("SELECT count(*) FROM audit_events WHERE organization_id = $1", db::Params(org.id));
  std::vector<std::thread> writers;
  std::atomic<int> ok{0};
  for (int w = 0; w < 16; ++w)
    writers.emplace_back([&] {
      for (int i = 0; i < 4; ++i)
        if (lims("POST", "/api/auth/logout", admin, "{}").status == 204u) ++ok;
    });
  for (auto& t : writers) t.join();
  EXPECT_EQ(ok.load(), 64);
  ASSERT_TRUE(wait_for_audit_links(org.id));
  auto r = owner().exec("SELECT count(*), min(seq), max(seq), count(DISTINCT seq) FROM audit_events WHERE organization_id = $1",
                        db::Params(org.id));
  const auto n = r.get_int(0, 0);
  EXPECT_EQ(n, before + 64);
  EXPECT_EQ(r.get_int(0, 1), 1);
  EXPECT_EQ(r.get_int(0, 2), n);  // no gap
  EXPECT_EQ(r.get_int(0, 3), n);  // no duplicate
  const auto rep = verify_org(org.id);
  EXPECT_TRUE(rep.intact) << rep.problem;
  EXPECT_EQ(rep.events, n);
  EXPECT_EQ(rep.pending, 0);
}

TEST(AuditChain, AnEditedRowIsDetected) {
  std::string admin;
  auto org = org_with_events(admin);
  ASSERT_TRUE(verify_org(org.id).intact);
  owner().exec("UPDATE audit_events SET after = '{\"full_name\":\"Someone else\"}' WHERE organization_id = $1 AND seq = 3",
               db::Params(org.id));
  const auto rep = verify_org(org.id);
  EXPECT_FALSE(rep.intact);
  EXPECT_EQ(rep.broken_seq, 3);
  // Every field counts, extra_metadata and the id included.
  auto org2 = org_with_events(admin);
  owner().exec("UPDATE audit_events SET extra_metadata = '{\"note\":1}' WHERE organization_id = $1 AND seq = 2",
               db::Params(org2.id));
  EXPECT_EQ(verify_org(org2.id).broken_seq, 2);
}

TEST(AuditChain, ADeletedMiddleRowIsDetected) {
  std::string admin;
  auto org = org_with_events(admin);
  owner().exec("DELETE FROM audit_events WHERE organization_id = $1 AND seq = 2", db::Params(org.id));
  const auto rep = verify_org(org.id);
  EXPECT_FALSE(rep.intact);
  EXPECT_EQ(rep.broken_seq, 2);
  EXPECT_NE(rep.problem.find("missing"), std::string::npos) << rep.problem;
}

TEST(AuditChain, AReorderedPairIsDetected) {
  std::string admin;
  auto org = org_with_events(admin);
  auto& c = owner();
  c.exec("UPDATE audit_events SET seq = 1000000 WHERE organization_id = $1 AND seq = 2", db::Params(org.id));
  c.exec("UPDATE audit_events SET seq = 2 WHERE organization_id = $1 AND seq = 3", db::Params(org.id));
  c.exec("UPDATE audit_events SET seq = 3 WHERE organization_id = $1 AND seq = 1000000", db::Params(org.id));
  const auto rep = verify_org(org.id);
  EXPECT_FALSE(rep.intact);
  EXPECT_EQ(rep.broken_seq, 2);
}

TEST(AuditChain, AForgedRowIsDetected) {
  std::string admin;
  auto org = org_with_events(admin);
  auto& c = owner();
  const auto n = last_seq(org.id);
  // Someone who can write the database appends an event with a plausible link, without the key.
  const std::string prev = db::decode_bytea(
      c.exec("SELECT hash FROM audit_events WHERE organization_id = $1 AND seq = $2", db::Params(org.id, std::to_string(n)))
          .get(0, 0));
  db::Params p;
  p.add(org.id).add(std::to_string(n + 1)).add_bytea(prev).add_bytea(crypto::sha256(prev + "forged"));
  c.exec("INSERT INTO audit_events (organization_id, seq, actor_type, action, prev_hash, hash)"
         " VALUES ($1, $2::bigint, 'system', 'user.delete', $3, $4)",
         p);
  const auto rep = verify_org(org.id);
  EXPECT_FALSE(rep.intact);
  EXPECT_EQ(rep.broken_seq, n + 1);
}

TEST(AuditChain, TheLastRowsDeletedAreCaughtAgainstACheckpoint) {
  std::string admin;
  auto org = org_with_events(admin);
  // The organization's admin keeps a signed checkpoint outside the database.
  auto cp = lims("GET", "/api/audit/checkpoint", admin);
  ASSERT_EQ(cp.status, 200u) << cp.body;
  const auto kept = audit::checkpoint_from_json(cp.body);
  ASSERT_TRUE(kept);
  const auto n = last_seq(org.id);
  EXPECT_EQ(kept->seq, n);
  EXPECT_TRUE(verify_org(org.id, {*kept}).intact);

  owner().exec("DELETE FROM audit_events WHERE organization_id = $1 AND seq >= $2::bigint",
               db::Params(org.id, std::to_string(n - 1)));
  // Without the checkpoint the shorter chain is consistent in itself ...
  EXPECT_TRUE(verify_org(org.id).intact);
  // ... with it, the truncation shows.
  const auto rep = verify_org(org.id, {*kept});
  EXPECT_FALSE(rep.intact);
  EXPECT_NE(rep.problem.find("deleted from its end"), std::string::npos) << rep.problem;

  // The command line says the same from a file of checkpoints.
  const std::string file = "/tmp/spectra-checkpoints-" + org.id + ".jsonl";
  std::ofstream(file) << cp.body << "\n";
  int st = 0;
  auto out = run_command(cli_env() + SPECTRA_BINARY + " audit verify --org " + org.id + " --checkpoints " + file, &st);
  EXPECT_NE(st, 0) << out;
  EXPECT_NE(out.find("BROKEN"), std::string::npos) << out;
  std::remove(file.c_str());
}

TEST(AuditChain, AReplacedDatabaseFunctionCannotVouchForItsLinks) {
  std::string admin;
  auto org = org_with_events(admin);
  auto& c = owner();
  // Everything pending elsewhere is linked first, so only this organization's next events go
  // through the replaced function.
  for (int i = 0; i < 200 && count("SELECT count(*) FROM audit_events WHERE seq IS NULL", {}) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string original(c.exec("SELECT pg_get_functiondef('app.audit_link(uuid, uuid[], bigint, text, text[])'::regprocedure)").get(0, 0));
  // A link function that ignores the sequencer's keyed hashes and writes unkeyed ones.
  c.exec(R"SQL(CREATE OR REPLACE FUNCTION app.audit_link(p_org uuid, p_ids uuid[], p_first_seq bigint, p_prev_hex text,
                                                        p_hashes_hex text[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    DECLARE n integer;
    BEGIN
      UPDATE audit_events a SET seq = p_first_seq + u.ord - 1, prev_hash = decode(p_prev_hex, 'hex'),
                                hash = sha256(decode(replace(u.id::text, '-', ''), 'hex'))
        FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
       WHERE a.organization_id = p_org AND a.id = u.id AND a.seq IS NULL;
      GET DIAGNOSTICS n = ROW_COUNT;
      RETURN n;
    END $$)SQL");
  const auto n = last_seq(org.id);
  lims("PATCH", "/api/users/" + org.user("viewer").id, admin, R"({"full_name":"Under a replaced function"})");
  const bool linked = wait_for_audit_links(org.id);
  c.exec(original);
  ASSERT_TRUE(linked);
  const auto rep = verify_org(org.id);
  EXPECT_FALSE(rep.intact);
  EXPECT_EQ(rep.broken_seq, n + 1);
}

TEST(AuditChain, CheckpointsAreSignedAndTheKeysPublished) {
  std::string admin;
  auto org = org_with_events(admin);
  auto keys = lims("GET", "/.well-known/audit-keys.json");
  ASSERT_EQ(keys.status, 200u);
  const auto doc = keys.json();
  const auto& key = doc.at("keys").as_array().at(0);
  EXPECT_EQ(key.at("algorithm"), "Ed25519");
  const auto public_key = crypto::base64_decode(std::string(key.at("public_key").as_string()));
  ASSERT_TRUE(public_key);

  // Admins only (the engineer's sign-in is itself an event: link it before taking the head).
  EXPECT_EQ(lims("GET", "/api/audit/checkpoint", login(org.user("engineer"))).status, 403u);
  ASSERT_TRUE(wait_for_audit_links(org.id));
  auto cp = lims("GET", "/api/audit/checkpoint", admin);
  ASSERT_EQ(cp.status, 200u);
  auto c = audit::checkpoint_from_json(cp.body);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->organization_id, org.id);
  EXPECT_EQ(c->key_id, std::string(key.at("key_id").as_string()));
  EXPECT_EQ(c->hash_hex, std::string(owner().exec("SELECT encode(hash, 'hex') FROM audit_events WHERE organization_id = $1"
                                                  " AND seq = $2::bigint", db::Params(org.id, std::to_string(c->seq))).get(0, 0)));
  EXPECT_TRUE(audit::checkpoint_signature_valid(*c, *public_key));
  auto forged = *c;
  forged.seq += 1;
  EXPECT_FALSE(audit::checkpoint_signature_valid(forged, *public_key));
  // The CLI signs the same head.
  int st = 0;
  auto out = run_command(cli_env() + SPECTRA_BINARY + " audit checkpoint --org " + org.id, &st);
  EXPECT_EQ(st, 0) << out;
  auto from_cli = audit::checkpoint_from_json(out.substr(0, out.find('\n')));
  ASSERT_TRUE(from_cli) << out;
  EXPECT_EQ(from_cli->seq, c->seq);
  EXPECT_TRUE(audit::checkpoint_signature_valid(*from_cli, *public_key));
}

TEST(AuditChain, HealthShowsTheSequencerAndItsLag) {
  auto h = lims("GET", "/health");
  ASSERT_EQ(h.status, 200u);
  const auto doc = h.json();
  const auto& a = doc.at("audit");
  EXPECT_EQ(a.at("sequencer"), "leader");
  EXPECT_GE(a.at("pending").as_int64(), 0);
  EXPECT_GE(a.at("lag_ms").as_int64(), 0);
}

TEST(AuditChain, TheServerAppendsCheckpointsToAFile) {
  auto& h = Harness::get();
  const std::string file = "/tmp/spectra-checkpoint-file-" + crypto::uuid_v4() + ".jsonl";
  Config cfg = h.config();
  cfg.audit_checkpoint_file = file;
  cfg.audit_checkpoint_interval = std::chrono::seconds(1);
  h.restart_server(cfg);
  std::string admin;
  auto org = org_with_events(admin);
  std::optional<audit::Checkpoint> found;
  for (int i = 0; i < 100 && !found; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line))
      if (auto c = audit::checkpoint_from_json(line); c && c->organization_id == org.id && c->seq == last_seq(org.id))
        found = c;
  }
  h.restart_server(h.config());
  ASSERT_TRUE(found);
  EXPECT_TRUE(verify_org(org.id, {*found}).intact);
  std::remove(file.c_str());
}

TEST(AuditChain, AnUpgradeRefusesToRelinkAChainThatWasAlreadyBroken) {
  auto& h = Harness::get();
  {
    db::BlockingConnection c(h.scratch_database("oldchain", 2));  // the trigger-kept, unkeyed chain
    const std::string org(c.exec("INSERT INTO organizations (name, slug) VALUES ('Old', 'old') RETURNING id").get(0, 0));
    for (const char* action : {"a", "b", "c"})
      c.exec("INSERT INTO audit_events (organization_id, actor_type, action) VALUES ($1, 'system', $2)",
             db::Params(org, action));
    c.exec("UPDATE audit_events SET action = 'forged' WHERE seq = 2");
    db::Migrator m(c);
    std::ostringstream log;
    try {
      m.upgrade(m.head(), log);
      FAIL() << "a broken chain was linked again under the new key";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("broken at seq 2"), std::string::npos) << e.what();
    }
    EXPECT_EQ(m.current(), 2);  // nothing of 0003 applied
  }
  h.drop_database("oldchain");
}
