// The instrument agent as a lab runs it: the real binary (`spectra agent`) watching a folder and
// importing into the test server with an API key. Files dropped into the folder are each imported once;
// a file still being written waits until it is stable; files that arrive while the API is down are
// imported once it is back; an agent killed with SIGKILL and started again sends nothing twice (the
// imports and the journal say so, a torn last journal line included); --run-from-barcode finds the
// newest RUNNING run of the file's sample on the profile's instrument, and waits for a run that is not
// started yet; a file the profile cannot read is journaled as refused and never sent again.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/journal.hpp"
#include "platform/crypto.hpp"
#include "support/api.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"

extern char** environ;

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string iso(int days_from_now) {
  const auto t = std::chrono::system_clock::now() + std::chrono::hours(24 * days_from_now);
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&tt));
  return buf;
}

std::string tag() { return crypto::to_hex(crypto::random_bytes(4)); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 100 ms until it holds or `limit` has passed.
bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

// An organization with a calibrated instrument, its import profile and the agent's key.
struct Lab {
  TestOrg org;
  std::string eng, tech, key, tool, profile;
};

std::string instrument(const std::string& eng, const std::string& serial) {
  auto i = analysis(
      "POST", "/api/v1/instruments", eng,
      js(json::object{
          {"name", "Four-point probe " + serial}, {"vendor", "V"}, {"model", "M"}, {"serial_number", serial}}));
  if (i.status != 201) throw std::runtime_error("creating an instrument failed: " + describe(i));
  const std::string id = str(i.json(), "id");
  auto c = analysis("POST", "/api/v1/calibrations", eng,
                    js(json::object{{"instrument_id", id},
                                    {"certificate_number", "CAL-" + serial},
                                    {"calibrated_at", iso(-30)},
                                    {"expires_at", iso(300)}}));
  if (c.status != 201) throw std::runtime_error("calibrating failed: " + describe(c));
  return id;
}

Lab lab() {
  Lab l{make_org(), {}, {}, {}, {}, {}};
  l.eng = login(l.org.user("engineer"));
  l.tech = login(l.org.user("technician"));
  l.tool = instrument(l.eng, "4PP-1");
  auto p = analysis(
      "POST", "/api/v1/import-profiles", l.eng,
      js(json::object{
          {"name", "4PP"},
          {"instrument_id", l.tool},
          {"format", "csv"},
          {"columns",
           json::object{{"metric", "metric"}, {"value", "value"}, {"unit", "unit"}, {"x_mm", "x"}, {"y_mm", "y"}}}}));
  if (p.status != 201) throw std::runtime_error("creating the import profile failed: " + describe(p));
  l.profile = str(p.json(), "id");
  // What an instrument PC is given: import results, find runs, read the profile.
  l.key = api_key(l.org, {"results:write", "runs:read", "instruments:read"}, "technician");
  return l;
}

std::string sample(const Lab& l, const std::string& barcode) {
  auto r = lims("POST", "/api/samples", l.eng,
                js(json::object{{"name", "Wafer " + barcode}, {"sample_type", "wafer"}, {"barcode", barcode}}));
  if (r.status != 201) throw std::runtime_error("creating a sample failed: " + describe(r));
  return str(r.json(), "id");
}

std::string queued_run(const Lab& l, const std::string& smp, const std::string& tool) {
  auto r = analysis("POST", "/api/v1/runs", l.eng, js(json::object{{"instrument_id", tool}, {"sample_id", smp}}));
  if (r.status != 201) throw std::runtime_error("creating a run failed: " + describe(r));
  return str(r.json(), "id");
}

std::string running_run(const Lab& l, const std::string& smp, const std::string& tool = {}) {
  const std::string run = queued_run(l, smp, tool.empty() ? l.tool : tool);
  auto s = analysis("PATCH", "/api/v1/runs/" + run + "/status", l.tech, js(json::object{{"status", "RUNNING"}}));
  if (s.status != 200) throw std::runtime_error("starting a run failed: " + describe(s));
  return run;
}

std::int64_t imports(const Lab& l, const std::string& run) {
  return count("SELECT count(*) FROM run_imports WHERE organization_id = $1 AND run_id = $2",
               db::Params(l.org.id, run));
}

std::int64_t results(const Lab& l, const std::string& run) {
  return count("SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2", db::Params(l.org.id, run));
}

// A four-point probe's file: `rows` sheet resistances at positions on the wafer. `seed` makes each
// file's bytes its own (the same bytes twice are one import).
std::string probe_file(int rows, int seed) {
  std::string text = "metric,value,unit,x,y\n";
  for (int i = 0; i < rows; ++i)
    text += "sheet_resistance," + std::to_string(40 + seed) + "." + std::to_string(i) + ",ohm/sq," +
            std::to_string(i * 5) + "," + std::to_string(-i * 3) + "\n";
  return text;
}

// The folder an instrument writes to, removed at the end with the agent's log beside it.
struct Folder {
  fs::path path;
  Folder() {
    path = fs::temp_directory_path() / ("spectra-agent-" + std::to_string(::getpid()) + "-" + tag());
    fs::create_directories(path);
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
    fs::remove(log(), ec);
  }
  fs::path log() const { return path.string() + ".log"; }
  void put(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
  fs::path journal_path() const { return path / ".spectra-agent" / "journal"; }
  std::string journal() const { return slurp(journal_path()); }
  // The journal's entries, whole lines only.
  std::vector<agent::Entry> entries() const {
    std::vector<agent::Entry> out;
    const std::string text = journal();
    for (std::size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
      if (auto e = agent::parse_line(std::string_view(text).substr(start, end - start))) out.push_back(*e);
    return out;
  }
  std::size_t lines(const std::string& name, agent::Event event) const {
    const auto all = entries();
    return static_cast<std::size_t>(std::count_if(
        all.begin(), all.end(), [&](const agent::Entry& e) { return e.name == name && e.event == event; }));
  }
};

// `spectra agent` in the background, started with fork and exec so that it can be stopped by its id;
// its log (standard error) goes to the folder's log file.
class AgentProcess {
 public:
  AgentProcess(const Lab& l, const Folder& f, std::vector<std::string> args, std::uint16_t port = 0,
               const std::string& stable_seconds = "0.5")
      : log_(f.log()) {
    if (!port) port = Harness::get().analysis_port();
    std::vector<std::string> argv = {
        SPECTRA_BINARY,     "agent",       "--api",   "http://127.0.0.1:" + std::to_string(port),
        "--profile",        l.profile,     "--watch", f.path.string(),
        "--stable-seconds", stable_seconds};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string_view v(*e);
      if (!v.starts_with("SPECTRA_API_KEY=") && !v.starts_with("LOG_LEVEL=") && !v.starts_with("LOG_FORMAT="))
        env.emplace_back(v);
    }
    env.push_back("SPECTRA_API_KEY=" + l.key);
    env.push_back("LOG_LEVEL=info");
    // Everything the child needs is made before fork: the test process has threads, and between fork
    // and exec only async-signal-safe calls are allowed.
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    const std::string log = log_.string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      // The test server's listening sockets must not live on in the agent: a port the harness closed
      // would still accept connections (and could not be bound again).
      if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
        for (int i = 3; i < 65536; ++i) ::close(i);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
  }

  ~AgentProcess() {
    if (pid_ <= 0) return;
    signal(SIGTERM);
    if (wait(10s) == -1) {
      signal(SIGKILL);
      wait(10s);
    }
  }

  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // The exit code once it has exited (128 + the signal when a signal ended it), or -1 when it is
  // still running after `limit`.
  int wait(std::chrono::seconds limit) {
    if (pid_ <= 0) return status_;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(20ms);
    }
  }

  // Stops it as an operator does (SIGTERM) and answers its exit code.
  int stop() {
    signal(SIGTERM);
    return wait(15s);
  }

  std::string log() const { return "agent log:\n" + slurp(log_); }
  std::size_t logged(const std::string& text) const {
    const std::string all = slurp(log_);
    std::size_t n = 0;
    for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + text.size())) ++n;
    return n;
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// Puts the test server back on the harness's configuration when a test that moved it ends, however it ends.
struct ServerBack {
  ~ServerBack() { Harness::get().restart_server(Harness::get().config()); }
};

}  // namespace

TEST(Agent, FilesDroppedIntoTheFolderAreEachImportedOnce) {
  auto l = lab();
  const std::string run = running_run(l, sample(l, "AG-" + tag()));
  Folder f;
  f.put("wafer-a_4pp.csv", probe_file(3, 1));
  f.put("wafer-b_4pp.csv", probe_file(2, 2));
  f.put(".~lock.wafer-a_4pp.csv#", "an office suite's lock file: a dot-file, never sent");
  fs::create_directories(f.path / "archive");
  f.put("archive/old_4pp.csv", probe_file(5, 9));  // subfolders are left alone
  {
    AgentProcess agent(l, f, {"--run", run});
    f.put("wafer-c_4pp.csv", probe_file(4, 3));  // one arrives while it watches
    ASSERT_TRUE(eventually([&] { return imports(l, run) == 3; })) << imports(l, run) << " imports; " << agent.log();
    EXPECT_EQ(results(l, run), 9);
    // A few more looks at the folder (every 500 ms) send nothing more.
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(imports(l, run), 3) << agent.log();
    EXPECT_EQ(agent.stop(), 0) << agent.log();
    EXPECT_GE(agent.logged("wafer-c_4pp.csv imported"), 1u) << agent.log();
  }
  auto names =
      owner().exec("SELECT filename FROM run_imports WHERE organization_id = $1 AND run_id = $2 ORDER BY filename",
                   db::Params(l.org.id, run));
  ASSERT_EQ(names.rows(), 3);
  EXPECT_EQ(names.get(0, 0), "wafer-a_4pp.csv");
  EXPECT_EQ(names.get(2, 0), "wafer-c_4pp.csv");
  for (const std::string name : {"wafer-a_4pp.csv", "wafer-b_4pp.csv", "wafer-c_4pp.csv"}) {
    EXPECT_EQ(f.lines(name, agent::Event::sending), 1u) << f.journal();
    EXPECT_EQ(f.lines(name, agent::Event::done), 1u) << f.journal();
  }
  for (const auto& e : f.entries()) {
    if (e.event != agent::Event::done) continue;
    EXPECT_EQ(e.status, 201u);
    EXPECT_EQ(e.sha256, crypto::to_hex(crypto::sha256(slurp(f.path / e.name))));
    const auto answer = json::parse(e.answer);
    EXPECT_EQ(db_text("SELECT filename FROM run_imports WHERE organization_id = $1 AND id = $2",
                      db::Params(l.org.id, str(answer, "import_id"))),
              e.name);
  }
  // Run again with --once: everything there is in the journal, so it exits at once and sends nothing.
  const std::string before = f.journal();
  AgentProcess once(l, f, {"--run", run, "--once"});
  EXPECT_EQ(once.wait(20s), 0) << once.log();
  EXPECT_EQ(f.journal(), before);
  EXPECT_EQ(imports(l, run), 3);
}

TEST(Agent, AFileStillBeingWrittenIsNotSentUntilItIsStable) {
  auto l = lab();
  const std::string run = running_run(l, sample(l, "AG-" + tag()));
  Folder f;
  AgentProcess agent(l, f, {"--run", run}, 0, "1");
  const std::string text = probe_file(12, 4);
  {
    // A line every 250 ms for 3 s: never unchanged for the second the agent waits, until the last line.
    std::ofstream out(f.path / "slow_4pp.csv", std::ios::binary);
    std::size_t at = 0;
    while (at < text.size()) {
      const auto end = text.find('\n', at) + 1;
      out << text.substr(at, end - at) << std::flush;
      at = end;
      std::this_thread::sleep_for(250ms);
      ASSERT_EQ(imports(l, run), 0) << "sent while it was still being written; " << agent.log();
    }
  }
  ASSERT_TRUE(eventually([&] { return imports(l, run) == 1; })) << agent.log();
  EXPECT_EQ(results(l, run), 12);
  EXPECT_EQ(db_text("SELECT results::text FROM run_imports WHERE organization_id = $1 AND run_id = $2",
                    db::Params(l.org.id, run)),
            "12");
  EXPECT_EQ(f.lines("slow_4pp.csv", agent::Event::sending), 1u) << f.journal();
}

TEST(Agent, FilesThatArriveWhileTheApiIsDownAreImportedOnceItIsBack) {
  auto l = lab();
  const std::string run = running_run(l, sample(l, "AG-" + tag()));
  auto& h = Harness::get();
  const auto analysis_port = h.analysis_port(), lims_port = h.lims_port();
  ServerBack server_back;
  // Down: the server moves to other ports, so that nothing listens where the agent calls.
  Config moved = h.config();
  do h.restart_server(moved);
  while (h.analysis_port() == analysis_port || h.lims_port() == lims_port);

  Folder f;
  AgentProcess agent(l, f, {"--run", run}, analysis_port);
  f.put("down-1_4pp.csv", probe_file(2, 5));
  f.put("down-2_4pp.csv", probe_file(3, 6));
  ASSERT_TRUE(eventually([&] { return agent.logged("the API is away") >= 2; })) << agent.log();
  f.put("down-3_4pp.csv", probe_file(1, 7));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(imports(l, run), 0);

  // Back on the same ports.
  Config back = h.config();
  back.analysis_port = analysis_port;
  back.lims_port = lims_port;
  h.restart_server(back);
  ASSERT_TRUE(eventually([&] { return imports(l, run) == 3; }, 45s)) << imports(l, run) << " imports; " << agent.log();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(imports(l, run), 3);
  EXPECT_EQ(results(l, run), 6);
  EXPECT_NE(agent.log().find("trying again in"), std::string::npos) << agent.log();
  for (const std::string name : {"down-1_4pp.csv", "down-2_4pp.csv", "down-3_4pp.csv"})
    EXPECT_EQ(f.lines(name, agent::Event::done), 1u) << f.journal();
}

TEST(Agent, AKilledAgentStartedAgainSendsNothingTwice) {
  auto l = lab();
  const std::string run = running_run(l, sample(l, "AG-" + tag()));
  Folder f;
  constexpr int first = 10, later = 2;
  for (int i = 0; i < first; ++i) f.put("kill-" + std::to_string(i) + "_4pp.csv", probe_file(2, 10 + i));
  {
    AgentProcess agent(l, f, {"--run", run});
    ASSERT_TRUE(eventually([&] { return imports(l, run) >= 2; })) << agent.log();
    agent.signal(SIGKILL);
    EXPECT_EQ(agent.wait(10s), 128 + SIGKILL);
  }
  // Whole lines only: a line the kill tore is cut off when the agent starts again.
  const std::string at_kill = f.journal().substr(0, f.journal().rfind('\n') + 1);
  std::set<std::string> done_at_kill;
  for (const auto& e : f.entries())
    if (e.event == agent::Event::done) done_at_kill.insert(e.name);
  // As if the kill had come while a line was being written.
  {
    std::ofstream(f.journal_path(), std::ios::app | std::ios::binary)
        << "2026-11-26T20:41:00.000Z\tdone\tkill-9_4pp.csv\t1";
  }
  for (int i = 0; i < later; ++i) f.put("late-" + std::to_string(i) + "_4pp.csv", probe_file(3, 30 + i));

  AgentProcess again(l, f, {"--run", run});
  ASSERT_TRUE(eventually([&] { return imports(l, run) == first + later; })) << imports(l, run) << "; " << again.log();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(imports(l, run), first + later);
  EXPECT_EQ(results(l, run), first * 2 + later * 3);
  EXPECT_EQ(again.stop(), 0) << again.log();

  // The torn line was cut off and what was there before stays as it was.
  const std::string after = f.journal();
  ASSERT_EQ(after.substr(0, at_kill.size()), at_kill);
  EXPECT_EQ(after.find("\tkill-9_4pp.csv\t1\n"), std::string::npos);
  EXPECT_EQ(f.entries().size(), static_cast<std::size_t>(std::count(after.begin(), after.end(), '\n')));
  // Nothing the first agent had finished was sent again; every file is done, and imported (201) once.
  const auto all = agent::Journal::read(after);
  const auto since_kill = agent::Journal::read(after.substr(at_kill.size()));
  std::map<std::string, int> created;
  for (const auto& e : f.entries())
    if (e.event == agent::Event::done && e.status == 201) ++created[e.name];
  for (const auto& entry : fs::directory_iterator(f.path)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    const agent::FileKey key{name, fs::file_size(entry.path()), crypto::to_hex(crypto::sha256(slurp(entry.path())))};
    EXPECT_EQ(all.outcome(key), agent::Outcome::done) << name << "\n" << after;
    EXPECT_LE(created[name], 1) << name << "\n" << after;
    if (done_at_kill.contains(name)) {
      EXPECT_EQ(since_kill.outcome(key), agent::Outcome::unknown) << name << " was sent again:\n" << after;
    }
  }
}

TEST(Agent, FromBarcodeFindsTheNewestRunningRunOfTheFilesSample) {
  auto l = lab();
  const std::string other_tool = instrument(l.eng, "4PP-2");
  const std::string b1 = "AG-" + tag() + "-W1", b2 = "AG-" + tag() + "-W2", b3 = "AG-" + tag() + "-W3";
  const std::string s1 = sample(l, b1);
  const std::string older = running_run(l, s1);
  const std::string newest_running = running_run(l, s1);
  const std::string queued = queued_run(l, s1, l.tool);          // newer, but not started
  const std::string elsewhere = running_run(l, s1, other_tool);  // newer, on another instrument
  const std::string r2 = running_run(l, sample(l, b2));

  Folder f;
  f.put(b1 + "_4pp.csv", probe_file(3, 40));
  f.put(b2 + ".csv", probe_file(2, 41));
  f.put(b3 + "_4pp.csv", probe_file(4, 42));  // its sample's run is not started yet
  AgentProcess agent(l, f, {"--run-from-barcode"});
  ASSERT_TRUE(eventually([&] { return imports(l, newest_running) == 1 && imports(l, r2) == 1; })) << agent.log();
  EXPECT_EQ(results(l, newest_running), 3);
  EXPECT_EQ(results(l, r2), 2);
  for (const auto& r : {older, queued, elsewhere}) EXPECT_EQ(imports(l, r), 0) << r;
  ASSERT_TRUE(eventually([&] { return agent.logged("no RUNNING run of the sample " + b3) >= 1; })) << agent.log();
  EXPECT_EQ(f.lines(b3 + "_4pp.csv", agent::Event::sending), 0u) << f.journal();

  // The run starts: the file follows, on the agent's next try.
  const std::string r3 = running_run(l, sample(l, b3));
  ASSERT_TRUE(eventually([&] { return imports(l, r3) == 1; }, 45s)) << agent.log();
  EXPECT_EQ(results(l, r3), 4);
  EXPECT_EQ(imports(l, newest_running), 1);
  EXPECT_EQ(imports(l, r2), 1);
}

TEST(Agent, AFileTheProfileCannotReadIsRefusedOnceAndNeverSentAgain) {
  auto l = lab();
  const std::string run = running_run(l, sample(l, "AG-" + tag()));
  Folder f;
  f.put("garbled_4pp.csv", "site;reading\nA;1,5\n");  // no column the profile names
  f.put("fine_4pp.csv", probe_file(2, 50));
  {
    AgentProcess agent(l, f, {"--run", run});
    ASSERT_TRUE(eventually([&] {
      return f.lines("garbled_4pp.csv", agent::Event::refused) == 1 && imports(l, run) == 1;
    })) << f.journal()
        << agent.log();
    // Long enough for two retries, were it retried.
    std::this_thread::sleep_for(3500ms);
    EXPECT_EQ(f.lines("garbled_4pp.csv", agent::Event::sending), 1u) << f.journal();
    EXPECT_EQ(f.lines("garbled_4pp.csv", agent::Event::refused), 1u) << f.journal();
    EXPECT_EQ(agent.logged("garbled_4pp.csv refused"), 1u) << agent.log();
    EXPECT_EQ(agent.stop(), 0) << agent.log();
  }
  EXPECT_EQ(imports(l, run), 1);
  EXPECT_EQ(results(l, run), 2);
  for (const auto& e : f.entries())
    if (e.event == agent::Event::refused) {
      EXPECT_EQ(e.status, 422u);
      const auto problem = json::parse(e.answer);
      EXPECT_TRUE(problem.as_object().contains("title")) << e.answer;
      EXPECT_TRUE(problem.as_object().contains("errors")) << e.answer;
    }
  // Started again: the journal's refusal stands.
  const std::string before = f.journal();
  AgentProcess once(l, f, {"--run", run, "--once"});
  EXPECT_EQ(once.wait(20s), 0) << once.log();
  EXPECT_EQ(f.journal(), before);
  // The same name with other bytes is another file.
  f.put("garbled_4pp.csv", probe_file(1, 51));
  AgentProcess fixed(l, f, {"--run", run, "--once"});
  EXPECT_EQ(fixed.wait(20s), 0) << fixed.log();
  EXPECT_EQ(imports(l, run), 2);
  EXPECT_EQ(f.lines("garbled_4pp.csv", agent::Event::done), 1u) << f.journal();
}

TEST(Agent, WithoutAKeyOrWithAnUnknownRunItStopsWithAClearMessage) {
  auto l = lab();
  Folder f;
  int status = 0;
  // `timeout`: should it not stop, the test fails instead of hanging.
  const std::string base = "timeout 30 " + std::string(SPECTRA_BINARY) +
                           " agent --api http://127.0.0.1:" + std::to_string(Harness::get().analysis_port()) +
                           " --profile " + l.profile + " --watch '" + f.path.string() + "' --stable-seconds 0.2";
  auto out = run_command("env -u SPECTRA_API_KEY " + base + " --run " + l.profile + " 2>&1", &status);
  EXPECT_EQ(WEXITSTATUS(status), 2) << out;
  EXPECT_NE(out.find("SPECTRA_API_KEY"), std::string::npos) << out;
  // A mistyped run stops the agent before any file is refused for good.
  f.put("a_4pp.csv", probe_file(1, 60));
  out = run_command("SPECTRA_API_KEY='" + l.key + "' " + base + " --run " + crypto::uuid_v4() + " 2>&1", &status);
  EXPECT_EQ(WEXITSTATUS(status), 2) << out;
  EXPECT_NE(out.find("cannot be used (404)"), std::string::npos) << out;
  EXPECT_EQ(f.lines("a_4pp.csv", agent::Event::refused), 0u) << f.journal();
}
