// The README's walkthrough (API.md's, as written) against the test server with the demo data: each
// command runs in bash exactly as the README prints it. curl is given --connect-to, so that
// localhost:8002 and :8001 reach this test's server; the two placeholders a reader fills in by hand
// (the token from the login, an instrument's id) are filled in the same way.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

// The commands of the README's first bash block after "## Try it", continuation lines joined,
// comments and `make` lines left out.
std::vector<std::string> walkthrough_commands() {
  std::ifstream in(std::string(SPECTRA_SOURCE_DIR) + "/README.md");
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  const auto section = text.find("## Try it");
  const auto open = text.find("```bash\n", section);
  const auto close = text.find("```", open + 8);
  if (section == std::string::npos || open == std::string::npos || close == std::string::npos) return {};
  std::istringstream block(text.substr(open + 8, close - open - 8));
  std::vector<std::string> commands;
  std::string line, pending;
  while (std::getline(block, line)) {
    if (const auto hash = line.find("  #"); hash != std::string::npos) line.resize(hash);
    const bool continues = !line.empty() && line.back() == '\\';
    if (continues) line.pop_back();
    pending += line;
    if (continues) continue;
    if (!pending.empty() && pending.rfind("make ", 0) != 0) commands.push_back(pending);
    pending.clear();
  }
  return commands;
}

struct Answer {
  unsigned status = 0;
  std::string body;
};

Answer run_as_written(const std::string& command, const std::string& token) {
  const std::string lims = std::to_string(Harness::get().lims_port()), analysis = std::to_string(Harness::get().analysis_port());
  const std::string script = "curl() { command curl -sS -w '\\n%{http_code}' --connect-to localhost:8002:127.0.0.1:" + lims +
                             " --connect-to localhost:8001:127.0.0.1:" + analysis + " \"$@\"; }\nexport TOKEN='" + token +
                             "'\n" + command + "\n";
  const auto file = std::filesystem::temp_directory_path() / ("spectra-walkthrough-" + std::to_string(::getpid()) + ".sh");
  std::ofstream(file) << script;
  int status = 0;
  std::string out = run_command("bash '" + file.string() + "'", &status);
  std::filesystem::remove(file);
  Answer a;
  const auto nl = out.find_last_of('\n');
  if (nl == std::string::npos) return a;
  a.status = static_cast<unsigned>(std::stoul(out.substr(nl + 1)));
  a.body = out.substr(0, nl);
  return a;
}

}  // namespace

TEST(Walkthrough, TheReadmeCommandsWorkAsWritten) {
  int seeded = 0;
  run_command("DATABASE_URL='" + Harness::get().owner_dsn() + "' " + SPECTRA_BINARY + " seed demo >/dev/null 2>&1", &seeded);
  ASSERT_EQ(seeded, 0);
  const auto commands = walkthrough_commands();
  ASSERT_GE(commands.size(), 6u) << "the README's Try it block was not found";
  const std::string instrument(owner().exec(
      "SELECT i.id FROM instruments i JOIN organizations o ON o.id = i.organization_id"
      " WHERE o.slug = 'acme' ORDER BY i.name LIMIT 1").get(0, 0));

  std::string token;
  std::vector<std::string> ran;
  for (auto command : commands) {
    if (command.find("<access_token_from_login>") != std::string::npos) {
      ASSERT_FALSE(token.empty()) << "the walkthrough sets TOKEN before it logs in";
      continue;  // what the reader does by hand: TOKEN is the login's access token (exported below)
    }
    if (const auto at = command.find("<uuid>"); at != std::string::npos) command.replace(at, 6, instrument);
    const auto a = run_as_written(command, token);
    ran.push_back(command);
    if (command.find("/health") != std::string::npos) {
      EXPECT_EQ(a.status, 200u) << command << "\n" << a.body;
    } else if (command.find("/api/auth/login") != std::string::npos) {
      ASSERT_EQ(a.status, 200u) << command << "\n" << a.body;
      token = std::string(json::parse(a.body).at("access_token").as_string());
    } else if (command.find("8002/api/samples") != std::string::npos) {
      ASSERT_EQ(a.status, 200u) << command << "\n" << a.body;
      std::set<std::string> barcodes;
      const auto page = json::parse(a.body);
      for (const auto& s : page.at("items").as_array())
        barcodes.insert(std::string(s.at("barcode").as_string()));
      for (const char* demo : {"ACME-S-0001", "ACME-S-0002", "ACME-S-0003"}) EXPECT_TRUE(barcodes.contains(demo)) << demo;
      EXPECT_FALSE(barcodes.contains("GLBX-S-0001")) << "another organization's sample is listed";
    } else if (command.find("calibrations/status/check") != std::string::npos) {
      // The demo Ellipsometer (first by name) has a valid calibration: exactly API.md's fields.
      ASSERT_EQ(a.status, 200u) << command << "\n" << a.body;
      const auto check = json::parse(a.body).as_object();
      std::set<std::string> fields;
      for (const auto& [k, _] : check) fields.insert(std::string(k));
      EXPECT_EQ(fields, (std::set<std::string>{"instrument_id", "is_valid", "status", "expires_at", "days_until_expiry",
                                               "calibration_id", "reason"}));
      EXPECT_EQ(std::string(check.at("instrument_id").as_string()), instrument);
      EXPECT_TRUE(check.at("is_valid").as_bool()) << a.body;
      EXPECT_EQ(std::string(check.at("status").as_string()), "VALID");
    } else {
      ADD_FAILURE() << "a command of the walkthrough that this test does not check: " << command;
    }
  }
  EXPECT_EQ(ran.size(), commands.size() - 1);
}
