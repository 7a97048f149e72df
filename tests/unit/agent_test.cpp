// The instrument agent's decisions without a socket (agent/journal.hpp): journal lines written and read
// back (odd names, a torn last line, junk), what the journal says about a file, the journal's file cut
// back to whole lines after a kill -9, when a file is ready, the barcode in a file's name, the content
// type of an upload, what each answer means, and the backoff's growth, cap and jitter.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/journal.hpp"

using namespace spectra::agent;
using namespace std::chrono_literals;

namespace {

const std::string sha_a(64, 'a');
const std::string sha_b = std::string(63, '0') + "1";

Entry entry(Event event, const std::string& name, const std::string& sha = sha_a, unsigned status = 0,
            const std::string& answer = {}) {
  return Entry{"2026-11-26T20:41:00.123Z", event, name, 123, sha, status, answer};
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh folder under the system's temporary one, removed at the end of the test.
struct TempFolder {
  std::filesystem::path path;
  TempFolder() {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("spectra-agent-unit-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempFolder() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST(AgentJournal, LinesAreTabSeparatedAndReadBackAsWritten) {
  const auto done = entry(Event::done, "ACME-W-0007_4pp.csv", sha_a, 201, R"({"import_id":"i-1","results":3})");
  const std::string line = format_line(done);
  EXPECT_EQ(line, "2026-11-26T20:41:00.123Z\tdone\tACME-W-0007_4pp.csv\t123\t" + sha_a +
                      "\t201\t{\"import_id\":\"i-1\",\"results\":3}\n");
  const auto back = parse_line(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->event, Event::done);
  EXPECT_EQ(back->name, done.name);
  EXPECT_EQ(back->size, 123u);
  EXPECT_EQ(back->sha256, sha_a);
  EXPECT_EQ(back->status, 201u);
  EXPECT_EQ(back->answer, done.answer);

  // `sending` has no status and no answer: dashes.
  const std::string sending = format_line(entry(Event::sending, "a.csv"));
  EXPECT_TRUE(sending.ends_with("\t-\t-\n")) << sending;
  const auto s = parse_line(std::string_view(sending).substr(0, sending.size() - 1));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->event, Event::sending);
  EXPECT_EQ(s->status, 0u);
  EXPECT_TRUE(s->answer.empty());

  // A name with a tab, a line break or a backslash stays on its line and comes back the same.
  const std::string odd = "run 1\tA\\B\nC.csv";
  const std::string odd_line = format_line(entry(Event::refused, odd, sha_b, 422, R"({"detail":"x\ty"})"));
  EXPECT_EQ(std::count(odd_line.begin(), odd_line.end(), '\n'), 1);
  const auto o = parse_line(std::string_view(odd_line).substr(0, odd_line.size() - 1));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->name, odd);
  EXPECT_EQ(o->event, Event::refused);
}

TEST(AgentJournal, JunkAndTornLinesAreNotEntries) {
  const std::string line = format_line(entry(Event::done, "a.csv", sha_a, 201, R"({"results":1})"));
  const std::string whole = line.substr(0, line.size() - 1);
  EXPECT_TRUE(parse_line(whole));
  // Every cut short of the answer loses a field or leaves one malformed.
  const auto answer_at = whole.rfind('\t');
  for (std::size_t cut = 0; cut < answer_at; ++cut) EXPECT_FALSE(parse_line(whole.substr(0, cut))) << cut;
  EXPECT_FALSE(parse_line(""));
  EXPECT_FALSE(parse_line("hello world"));
  EXPECT_FALSE(parse_line("t\tsent\ta.csv\t1\t" + sha_a + "\t201\t{}"));            // no such event
  EXPECT_FALSE(parse_line("t\tdone\ta.csv\t-1\t" + sha_a + "\t201\t{}"));           // size
  EXPECT_FALSE(parse_line("t\tdone\ta.csv\t1\t" + sha_a.substr(1) + "\t201\t{}"));  // sha256
  EXPECT_FALSE(parse_line("t\tdone\ta.csv\t1\t" + std::string(64, 'A') + "\t201\t{}"));
  EXPECT_FALSE(parse_line("t\tdone\ta\\q.csv\t1\t" + sha_a + "\t201\t{}"));  // an unknown escape
  EXPECT_FALSE(parse_line("t\tdone\ta.csv\t1\t" + sha_a + "\tok\t{}"));      // status
}

TEST(AgentJournal, ReadingKnowsEachFilesOutcomeAndIgnoresATornLastLine) {
  std::string text;
  text += format_line(entry(Event::sending, "a.csv"));
  text += format_line(entry(Event::done, "a.csv", sha_a, 201, "{}"));
  text += format_line(entry(Event::sending, "b.csv"));  // the agent died mid-send
  text += format_line(entry(Event::sending, "c.csv"));
  text += format_line(entry(Event::refused, "c.csv", sha_a, 422, R"({"detail":"no value column"})"));
  text += "junk\n\n";
  // A kill -9 while `done` of b.csv was being written: not an outcome.
  const std::string torn = format_line(entry(Event::done, "b.csv", sha_a, 201, R"({"results":1})"));
  text += torn.substr(0, torn.size() - 1);

  const auto j = Journal::read(text);
  EXPECT_EQ(j.outcome({"a.csv", 123, sha_a}), Outcome::done);
  EXPECT_EQ(j.outcome({"b.csv", 123, sha_a}), Outcome::unfinished);
  EXPECT_EQ(j.outcome({"c.csv", 123, sha_a}), Outcome::refused);
  EXPECT_EQ(j.outcome({"d.csv", 123, sha_a}), Outcome::unknown);
  EXPECT_EQ(j.skipped(), 1u);
  // Another size or other bytes under the same name is another file.
  EXPECT_EQ(j.outcome({"a.csv", 124, sha_a}), Outcome::unknown);
  EXPECT_EQ(j.outcome({"a.csv", 123, sha_b}), Outcome::unknown);

  // Sent again after a restart (the server answers 200): done stays done, whatever follows.
  auto again = j;
  again.record(entry(Event::sending, "b.csv"));
  again.record(entry(Event::done, "b.csv", sha_a, 200, "{}"));
  again.record(entry(Event::sending, "b.csv"));
  EXPECT_EQ(again.outcome({"b.csv", 123, sha_a}), Outcome::done);
  again.record(entry(Event::sending, "c.csv"));
  EXPECT_EQ(again.outcome({"c.csv", 123, sha_a}), Outcome::refused);
}

TEST(AgentJournal, TheFileIsCutBackToWholeLinesAndAppendedTo) {
  TempFolder dir;
  const auto path = dir.path / ".spectra-agent" / "journal";
  {
    JournalFile j(path.string());  // creates the folder and the file
    EXPECT_TRUE(j.locked());
    EXPECT_EQ(j.state().files(), 0u);
    j.append(entry(Event::sending, "a.csv"));
    j.append(entry(Event::done, "a.csv", sha_a, 201, "{}"));
    EXPECT_EQ(j.state().outcome({"a.csv", 123, sha_a}), Outcome::done);
    // A second agent on the same folder is refused while the first holds the journal.
    EXPECT_THROW(JournalFile second(path.string()), std::runtime_error);
  }
  const std::string whole = slurp(path);
  {
    std::ofstream(path, std::ios::app) << "2026-11-26T20:41:01.000Z\tdone\tb.csv\t12";  // killed mid-write
  }
  {
    JournalFile j(path.string());
    EXPECT_EQ(j.torn_bytes(), std::string("2026-11-26T20:41:01.000Z\tdone\tb.csv\t12").size());
    EXPECT_EQ(slurp(path), whole);
    EXPECT_EQ(j.state().outcome({"a.csv", 123, sha_a}), Outcome::done);
    j.append(entry(Event::sending, "b.csv", sha_b));
  }
  JournalFile j(path.string());
  EXPECT_EQ(j.torn_bytes(), 0u);
  EXPECT_EQ(j.state().skipped(), 0u);
  EXPECT_EQ(j.state().outcome({"b.csv", 123, sha_b}), Outcome::unfinished);
  EXPECT_EQ(slurp(path), whole + format_line(entry(Event::sending, "b.csv", sha_b)));
}

TEST(AgentJournal, AnswersAreKeptAsJsonOnOneLine) {
  EXPECT_EQ(json_line("{\n  \"results\": 3,\n  \"import_id\": \"x\"\n}"), R"({"results":3,"import_id":"x"})");
  EXPECT_EQ(json_line("<html>\nBad\tGateway</html>"), R"("<html>\nBad\tGateway</html>")");
  EXPECT_EQ(json_line(""), R"("")");
  EXPECT_EQ(utc_time(std::chrono::system_clock::time_point(std::chrono::milliseconds(1'795'725'660'123))),
            "2026-11-26T20:41:00.123Z");
}

TEST(AgentFiles, AFileIsReadyOnceUnchangedForTheStablePeriod) {
  const auto t0 = std::chrono::steady_clock::time_point(100s);
  auto s = observe(std::nullopt, 10, 1000, t0);
  EXPECT_EQ(s.since, t0);
  EXPECT_FALSE(is_ready(s, t0, 2s));
  // Unchanged a second later: not yet; two seconds later: ready.
  s = observe(s, 10, 1000, t0 + 1s);
  EXPECT_FALSE(is_ready(s, t0 + 1s, 2s));
  s = observe(s, 10, 1000, t0 + 2s);
  EXPECT_TRUE(is_ready(s, t0 + 2s, 2s));
  // Grown: the wait starts again.
  auto grown = observe(s, 20, 1000, t0 + 3s);
  EXPECT_EQ(grown.since, t0 + 3s);
  EXPECT_FALSE(is_ready(grown, t0 + 4s, 2s));
  EXPECT_TRUE(is_ready(grown, t0 + 5s, 2s));
  // Rewritten at the same size (the mtime moves): again.
  auto touched = observe(grown, 20, 2000, t0 + 5s);
  EXPECT_FALSE(is_ready(touched, t0 + 6s, 2s));
  // An empty file is never ready: the instrument has not written it yet.
  auto empty = observe(std::nullopt, 0, 1000, t0);
  EXPECT_FALSE(is_ready(observe(empty, 0, 1000, t0 + 60s), t0 + 60s, 2s));
}

TEST(AgentFiles, TheBarcodeIsTheNameBeforeTheFirstUnderscoreOrSpace) {
  EXPECT_EQ(barcode_of("ACME-W-0007_4pp.csv"), "ACME-W-0007");
  EXPECT_EQ(barcode_of("ACME-W-0007.csv"), "ACME-W-0007");
  EXPECT_EQ(barcode_of("ACME-W-0007 second try.csv"), "ACME-W-0007");
  EXPECT_EQ(barcode_of("ACME-W-0007_a_b.tsv"), "ACME-W-0007");
  EXPECT_EQ(barcode_of("ACME-W-0007"), "ACME-W-0007");
  EXPECT_EQ(barcode_of("LOT.2026.42.csv"), "LOT.2026.42");  // only the last extension goes
  EXPECT_EQ(barcode_of("7K3P-QX9M-4.txt"), "7K3P-QX9M-4");
  EXPECT_EQ(barcode_of("A1:B2_x.csv"), "A1:B2");
  EXPECT_FALSE(barcode_of("_4pp.csv"));
  EXPECT_FALSE(barcode_of(" x.csv"));
  EXPECT_FALSE(barcode_of("-W-0007.csv"));  // must start with a letter or digit
  EXPECT_FALSE(barcode_of("ACME#7.csv"));
  EXPECT_FALSE(barcode_of("Wafer\xc3\xa9.csv"));
  EXPECT_FALSE(barcode_of(std::string(65, 'A') + ".csv"));
  EXPECT_EQ(barcode_of(std::string(64, 'A') + ".csv"), std::string(64, 'A'));
}

TEST(AgentFiles, TheContentTypeFollowsTheExtension) {
  EXPECT_EQ(content_type_of("a.csv"), "text/csv");
  EXPECT_EQ(content_type_of("A.CSV"), "text/csv");
  EXPECT_EQ(content_type_of("a.tsv"), "text/tab-separated-values");
  EXPECT_EQ(content_type_of("a.TXT"), "text/tab-separated-values");
  EXPECT_EQ(content_type_of("a.dat"), "text/plain");
  EXPECT_EQ(content_type_of("README"), "text/plain");
  EXPECT_EQ(content_type_of("a.csv.bak"), "text/plain");
}

TEST(AgentAnswers, EachStatusMeansOneThingForTheFile) {
  for (const bool barcode : {false, true}) {
    EXPECT_EQ(judge_import(201, barcode), Verdict::done);
    EXPECT_EQ(judge_import(200, barcode), Verdict::done);  // the same bytes were imported before
    EXPECT_EQ(judge_import(422, barcode), Verdict::refused);
    EXPECT_EQ(judge_import(413, barcode), Verdict::refused);
    EXPECT_EQ(judge_import(401, barcode), Verdict::bad_key);
    EXPECT_EQ(judge_import(403, barcode), Verdict::bad_key);
    EXPECT_EQ(judge_import(409, barcode), Verdict::retry);  // the run is not RUNNING or COMPLETED (yet)
    EXPECT_EQ(judge_import(429, barcode), Verdict::retry);
    EXPECT_EQ(judge_import(500, barcode), Verdict::api_away);
    EXPECT_EQ(judge_import(502, barcode), Verdict::api_away);
    EXPECT_EQ(judge_import(503, barcode), Verdict::api_away);
  }
  // An unknown run named on the command line stays unknown; one found by barcode may be found again.
  EXPECT_EQ(judge_import(404, false), Verdict::refused);
  EXPECT_EQ(judge_import(404, true), Verdict::retry);
}

TEST(AgentAnswers, TheBackoffDoublesFromOneSecondUpToAMinuteWithJitterBelowIt) {
  EXPECT_EQ(backoff_delay(1, 0), 1000ms);
  EXPECT_EQ(backoff_delay(2, 0), 2000ms);
  EXPECT_EQ(backoff_delay(3, 0), 4000ms);
  EXPECT_EQ(backoff_delay(6, 0), 32000ms);
  EXPECT_EQ(backoff_delay(7, 0), 60000ms);  // 64 s, capped
  EXPECT_EQ(backoff_delay(1000, 0), 60000ms);
  EXPECT_EQ(backoff_delay(0, 0), 1000ms);
  for (int failures = 1; failures < 12; ++failures) {
    const auto full = backoff_delay(failures, 0);
    for (const double jitter : {0.1, 0.5, 0.999}) {
      const auto d = backoff_delay(failures, jitter);
      EXPECT_LT(d, full);
      EXPECT_GE(d, full * 3 / 4);
    }
    EXPECT_GE(backoff_delay(failures + 1, 0), full);
  }
  EXPECT_LE(backoff_delay(50, 0.999), 60000ms);
}
