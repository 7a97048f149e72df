// The restore drill, with the CLI as an operator runs it: populate, `spectra backup`, write more,
// `spectra restore` into a fresh database and data directory; then `spectra audit verify` passes against
// the set's checkpoints, every attachment's bytes match their SHA-256, and the tables hold what they held
// at the snapshot (not what was written after). A set that does not verify, and a database that is not
// empty, are refused and change nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "platform/crypto.hpp"
#include "support/api.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

struct Run {
  int status = 0;
  std::string out;
};

Run cli(const std::string& env, const std::string& args) {
  Run r;
  r.out = run_command(env + " " + SPECTRA_BINARY + " " + args + " 2>&1", &r.status);
  return r;
}

std::string env_for(const std::string& dsn, const fs::path& data) {
  return "DATABASE_URL='" + dsn + "' AUDIT_KEY='" + test_audit_key() + "' DATA_DIR='" + data.string() + "'";
}

std::string upload(const std::string& token, const std::string& sample, const std::string& name, const std::string& bytes) {
  auto r = analysis("POST", "/api/v1/attachments?sample_id=" + sample + "&filename=" + name, token, bytes,
                    {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 201u) << r.body;
  return str(json::parse(r.body), "id");
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(Backup, TheRestoreDrill) {
  if (Harness::get().citus()) GTEST_SKIP() << "a Citus cluster is backed up node by node (docs/scale-out.md)";
  auto org = make_org();
  const auto token = login(org.user("engineer"));
  auto sample = lims("POST", "/api/samples", token, R"({"name":"Backed up","sample_type":"film"})");
  ASSERT_EQ(sample.status, 201u) << sample.body;
  const std::string sample_id = str(json::parse(sample.body), "id");
  const std::string first = "thickness " + crypto::uuid_v4() + "\n", second = "sheet resistance " + crypto::uuid_v4() + "\n";
  upload(token, sample_id, "first.txt", first);
  upload(token, sample_id, "second.txt", second);
  ASSERT_TRUE(wait_for_audit_links(org.id));
  const auto samples_at_backup = count("SELECT count(*) FROM samples WHERE organization_id = '" + org.id + "'");
  const auto events_at_backup = count("SELECT count(*) FROM audit_events WHERE organization_id = '" + org.id + "'");

  const auto set = fs::temp_directory_path() / ("spectra-backup-" + std::to_string(::getpid()));
  const auto restored_data = fs::temp_directory_path() / ("spectra-restored-data-" + std::to_string(::getpid()));
  fs::remove_all(set);
  fs::remove_all(restored_data);
  const auto source = env_for(Harness::get().owner_dsn(), Harness::get().config().data_dir);
  auto backup = cli(source, "backup --to '" + set.string() + "'");
  ASSERT_EQ(backup.status, 0) << backup.out;
  const auto manifest = json::parse(read_file(set / "manifest.json")).as_object();
  EXPECT_EQ(manifest.at("format"), "spectra-backup/1");
  // Row security is forced on the tenant tables: the set holds every row all the same.
  EXPECT_EQ(manifest.at("counts").at("public.samples").to_number<std::int64_t>(), count("SELECT count(*) FROM samples"));
  EXPECT_EQ(manifest.at("counts").at("public.audit_events").to_number<std::int64_t>(),
            count("SELECT count(*) FROM audit_events"));
  EXPECT_EQ(manifest.at("counts").at("public.attachments").to_number<std::int64_t>(),
            count("SELECT count(*) FROM attachments"));

  // Written after the snapshot: not in the set.
  ASSERT_EQ(lims("POST", "/api/samples", token, R"({"name":"After the backup","sample_type":"film"})").status, 201u);
  upload(token, sample_id, "third.txt", "written after " + crypto::uuid_v4());

  const std::string target = Harness::get().scratch_database("restored", 0);
  auto restore = cli(env_for(target, restored_data), "restore --from '" + set.string() + "'");
  ASSERT_EQ(restore.status, 0) << restore.out;
  auto verify = cli(env_for(target, restored_data), "audit verify --org " + org.id + " --checkpoints '" +
                                                        (set / "checkpoints.jsonl").string() + "'");
  EXPECT_EQ(verify.status, 0) << verify.out;
  EXPECT_NE(verify.out.find(org.id + ": " + std::to_string(events_at_backup) + " events, chain intact"), std::string::npos)
      << verify.out;
  {
    db::BlockingConnection r(target);
    EXPECT_EQ(r.exec("SELECT count(*) FROM samples WHERE organization_id = $1", db::Params(org.id)).get_int(0, 0),
              samples_at_backup);
    EXPECT_EQ(r.exec("SELECT count(*) FROM samples WHERE name = 'After the backup' AND organization_id = $1",
                     db::Params(org.id)).get_int(0, 0), 0);
    auto files = r.exec("SELECT encode(sha256, 'hex'), size_bytes, filename FROM attachments WHERE organization_id = $1"
                        " ORDER BY filename", db::Params(org.id));
    ASSERT_EQ(files.rows(), 2);
    for (int i = 0; i < files.rows(); ++i) {
      const std::string hex(files.get(i, 0));
      const auto bytes = read_file(restored_data / hex.substr(0, 2) / hex.substr(2, 2) / hex);
      EXPECT_EQ(crypto::to_hex(crypto::sha256(bytes)), hex) << files.get(i, 2);
      EXPECT_EQ(static_cast<std::int64_t>(bytes.size()), files.get_int(i, 1));
    }
    EXPECT_EQ(read_file(restored_data / crypto::to_hex(crypto::sha256(first)).substr(0, 2) /
                        crypto::to_hex(crypto::sha256(first)).substr(2, 2) / crypto::to_hex(crypto::sha256(first))),
              first);
  }

  // A restore into a database that is not empty is refused.
  auto again = cli(env_for(target, restored_data / "again"), "restore --from '" + set.string() + "'");
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.out.find("not empty"), std::string::npos) << again.out;

  // One byte of a stored file changed: the set does not verify, and nothing is restored.
  const std::string hex = crypto::to_hex(crypto::sha256(second));
  const auto part = set / "files" / hex.substr(0, 2) / hex.substr(2, 2) / hex;
  std::string bytes = read_file(part);
  bytes[0] ^= 1;
  std::ofstream(part, std::ios::binary | std::ios::trunc) << bytes;
  const std::string tampered = Harness::get().scratch_database("tampered", 0);
  auto refused = cli(env_for(tampered, restored_data / "tampered"), "restore --from '" + set.string() + "'");
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.out.find("does not verify: the SHA-256 of files/" + hex.substr(0, 2)), std::string::npos) << refused.out;
  {
    db::BlockingConnection t(tampered);
    EXPECT_EQ(t.exec("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                     " WHERE n.nspname = 'public' AND c.relkind = 'r'").get_int(0, 0), 0);
  }
  EXPECT_FALSE(fs::exists(restored_data / "tampered"));

  Harness::get().drop_database("restored");
  Harness::get().drop_database("tampered");
  fs::remove_all(set);
  fs::remove_all(restored_data);
}
