#pragma once
// The instrument agent's decisions as plain functions, unit-tested without a socket: its journal (one
// line per event, read back after a crash or a kill -9), when a file is ready to send, the barcode in a
// file's name, the content type of an upload, what an answer means for the file and how long to wait
// before trying again. The journal's file (appends made durable one by one) is here too.
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace spectra::agent {

enum class Event { sending, done, refused };

// One line of the journal.
struct Entry {
  std::string time;  // when it was written, RFC 3339 UTC
  Event event = Event::sending;
  std::string name;  // the file's name in the watched folder
  std::uint64_t size = 0;
  std::string sha256;   // of the bytes sent: 64 lower-case hex digits
  unsigned status = 0;  // the answer's HTTP status; 0 for `sending`, or a refusal made here
  std::string answer;   // the answer, JSON on one line; empty for `sending`
};

// "time<TAB>event<TAB>name<TAB>size<TAB>sha256<TAB>status<TAB>answer\n" with "-" for no status and no
// answer. The name's backslashes, tabs, CRs and LFs are escaped (\\ \t \r \n); the answer must be JSON
// on one line (json_line makes it so), which has neither tabs nor line breaks.
std::string format_line(const Entry& e);
// The entry one line holds (without its '\n'), or nullopt when it is not one: a line a crash cut short,
// anything else that found its way into the file.
std::optional<Entry> parse_line(std::string_view line);
// An answer's body as JSON on one line: JSON as it is (serialized again), anything else as a JSON string.
std::string json_line(std::string_view body);
// `t` as RFC 3339 UTC with milliseconds (2026-11-26T20:41:00.123Z).
std::string utc_time(std::chrono::system_clock::time_point t);

// A file as the journal knows it: the same name with other bytes (another size or SHA-256) is a new file.
struct FileKey {
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;
  auto operator<=>(const FileKey&) const = default;
};

enum class Outcome {
  unknown,     // never sent
  unfinished,  // `sending` with no outcome after it: the agent stopped mid-send, so it is sent again
  done,        // imported (201) or already there (200): never sent again
  refused,     // the server (or the agent) refused it for good: never sent again
};

// What the journal says about each file; a done or refused file stays so whatever follows.
class Journal {
 public:
  // Reads a journal's text: complete lines only (a last line without its '\n' was torn by a crash and
  // is ignored), and lines that are not entries are counted in skipped().
  static Journal read(std::string_view text);
  void record(const Entry& e);
  Outcome outcome(const FileKey& file) const;
  std::size_t skipped() const { return skipped_; }
  std::size_t files() const { return files_.size(); }

 private:
  std::map<FileKey, Outcome> files_;
  std::size_t skipped_ = 0;
};

// The journal on disk, DIR/.spectra-agent/journal: append-only, each entry one write(2) followed by an
// fsync, so that what is recorded survives a crash of the agent or of the machine.
class JournalFile {
 public:
  // Opens `path` (creating it and its folder), takes an exclusive lock on it (two agents on one folder
  // would send each file twice), cuts off a torn last line, and reads it. Throws std::runtime_error.
  explicit JournalFile(const std::string& path);
  ~JournalFile();
  JournalFile(const JournalFile&) = delete;
  JournalFile& operator=(const JournalFile&) = delete;

  const Journal& state() const { return state_; }
  // Appends the entry, fsyncs, then records it in state(). Throws std::runtime_error when it cannot.
  void append(const Entry& e);
  // False when the file system does not lock (some network shares): a second agent would go unnoticed.
  bool locked() const { return locked_; }
  // Bytes of a torn last line cut off when it was opened (0 when none).
  std::size_t torn_bytes() const { return torn_bytes_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool locked_ = false;
  std::size_t torn_bytes_ = 0;
  Journal state_;
};

// A file's size and modification time, and since when they have been what they are.
struct Sighting {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::chrono::steady_clock::time_point since;
};
// The sighting after another look at a file: the same size and mtime keep `since`, anything else (or a
// first look) starts again from `now`.
Sighting observe(const std::optional<Sighting>& before, std::uint64_t size, std::int64_t mtime_ns,
                 std::chrono::steady_clock::time_point now);
// Whether the file has been unchanged for `stable_for` and is not empty (an instrument that creates its
// file first and writes it later is not done).
bool is_ready(const Sighting& s, std::chrono::steady_clock::time_point now,
              std::chrono::steady_clock::duration stable_for);

// The sample barcode a file's name carries: the part before the first '_' or space, or else the name
// without its extension ("ACME-W-0007_4pp.csv" and "ACME-W-0007.csv" → "ACME-W-0007"); nullopt when
// that is not a barcode (^[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}$).
std::optional<std::string> barcode_of(std::string_view filename);

// The Content-Type of a file's upload, by its extension (any case): text/csv for .csv,
// text/tab-separated-values for .tsv and .txt, text/plain for anything else.
std::string_view content_type_of(std::string_view filename);

// What an import's answer means for the file.
enum class Verdict {
  done,      // 201 imported, 200 imported before: journal it, never send it again
  refused,   // the file (or the run it names) is not importable: journal it, never send it again
  retry,     // not now (the run is not running, no run for its barcode yet, throttled): later, with backoff
  api_away,  // the API is down or failing (5xx, no connection): every file waits, with backoff
  bad_key,   // 401/403: every file waits, slowly, until the operator fixes the key
};
// 404 is final when the run was named on the command line; with --run-from-barcode the run was looked
// up and the next lookup may find another.
Verdict judge_import(unsigned status, bool run_from_barcode);

// How long to wait after `failures` failures in a row (1, 2, ...): 1 s doubling up to 60 s, less up to
// a quarter drawn from `jitter` (in [0, 1)), so that agents restarted together do not return together.
std::chrono::milliseconds backoff_delay(int failures, double jitter);

}  // namespace spectra::agent
