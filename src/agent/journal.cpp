#include "agent/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <vector>

namespace spectra::agent {
namespace {

constexpr std::string_view event_names[] = {"sending", "done", "refused"};

std::string_view name_of(Event e) { return event_names[static_cast<int>(e)]; }

std::optional<Event> event_named(std::string_view s) {
  for (int i = 0; i < 3; ++i)
    if (event_names[i] == s) return static_cast<Event>(i);
  return std::nullopt;
}

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    switch (s[i]) {
      case '\\': out += '\\'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      default: return std::nullopt;
    }
  }
  return out;
}

template <class T>
std::optional<T> whole_number(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write the journal " + path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// A new file's name is durable only once its folder is synced too.
void sync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string format_line(const Entry& e) {
  std::string line = e.time;
  line += '\t';
  line += name_of(e.event);
  line += '\t';
  line += escape(e.name);
  line += '\t';
  line += std::to_string(e.size);
  line += '\t';
  line += e.sha256;
  line += '\t';
  line += e.status ? std::to_string(e.status) : "-";
  line += '\t';
  line += e.answer.empty() ? std::string("-") : e.answer;
  line += '\n';
  return line;
}

std::optional<Entry> parse_line(std::string_view line) {
  std::vector<std::string_view> fields;
  for (std::size_t start = 0;;) {
    const auto tab = line.find('\t', start);
    // The answer is the last field, whatever it holds.
    if (fields.size() == 6 || tab == std::string_view::npos) {
      fields.push_back(line.substr(start));
      break;
    }
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
  if (fields.size() != 7 || fields[0].empty() || fields[6].empty()) return std::nullopt;
  Entry e;
  e.time = fields[0];
  const auto event = event_named(fields[1]);
  auto name = unescape(fields[2]);
  const auto size = whole_number<std::uint64_t>(fields[3]);
  if (!event || !name || name->empty() || !size || !is_sha256_hex(fields[4])) return std::nullopt;
  e.event = *event;
  e.name = std::move(*name);
  e.size = *size;
  e.sha256 = fields[4];
  if (fields[5] != "-") {
    const auto status = whole_number<unsigned>(fields[5]);
    if (!status || *status > 999) return std::nullopt;
    e.status = *status;
  }
  if (fields[6] != "-") e.answer = fields[6];
  return e;
}

std::string json_line(std::string_view body) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  return ec ? boost::json::serialize(boost::json::value(body)) : boost::json::serialize(v);
}

std::string utc_time(std::chrono::system_clock::time_point t) {
  const auto since_epoch = t.time_since_epoch();
  const std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char out[64];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return out;
}

Journal Journal::read(std::string_view text) {
  Journal j;
  for (std::size_t start = 0, end; (end = text.find('\n', start)) != std::string_view::npos; start = end + 1) {
    const auto line = text.substr(start, end - start);
    if (line.empty()) continue;
    if (const auto e = parse_line(line))
      j.record(*e);
    else
      ++j.skipped_;
  }
  return j;
}

void Journal::record(const Entry& e) {
  auto& o = files_[FileKey{e.name, e.size, e.sha256}];
  if (o == Outcome::done || o == Outcome::refused) return;
  o = e.event == Event::sending ? Outcome::unfinished : e.event == Event::done ? Outcome::done : Outcome::refused;
}

Outcome Journal::outcome(const FileKey& file) const {
  const auto it = files_.find(file);
  return it == files_.end() ? Outcome::unknown : it->second;
}

JournalFile::JournalFile(const std::string& path) : path_(path) {
  const std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path() && !std::filesystem::is_directory(p.parent_path())) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) throw std::runtime_error("cannot create " + p.parent_path().string() + ": " + ec.message());
    sync_folder(p.parent_path().parent_path());
  }
  fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot open the journal " + path);
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
    locked_ = true;
  } else if (errno == EWOULDBLOCK) {
    ::close(fd_);
    throw std::runtime_error("another agent is watching this folder (it holds the lock on " + path + ")");
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("cannot read the journal " + path);
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  for (std::size_t at = 0; at < text.size();) {
    const auto n = ::pread(fd_, text.data() + at, text.size() - at, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read the journal " + path);
    if (n == 0) {
      text.resize(at);
      break;
    }
    at += static_cast<std::size_t>(n);
  }
  // A last line without its '\n' was being written when the agent died. It is cut off, so that the
  // next entry starts a line of its own rather than completing a torn one.
  if (!text.empty() && text.back() != '\n') {
    const auto keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    torn_bytes_ = text.size() - keep;
    if (::ftruncate(fd_, static_cast<off_t>(keep)) != 0 || ::fsync(fd_) != 0) fail("cannot repair the journal " + path);
    text.resize(keep);
  }
  state_ = Journal::read(text);
  if (st.st_size == 0) sync_folder(p.has_parent_path() ? p.parent_path() : std::filesystem::path("."));
}

JournalFile::~JournalFile() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalFile::append(const Entry& e) {
  write_all(fd_, format_line(e), path_);
  if (::fdatasync(fd_) != 0) fail("cannot sync the journal " + path_);
  state_.record(e);
}

Sighting observe(const std::optional<Sighting>& before, std::uint64_t size, std::int64_t mtime_ns,
                 std::chrono::steady_clock::time_point now) {
  if (before && before->size == size && before->mtime_ns == mtime_ns) return *before;
  return Sighting{size, mtime_ns, now};
}

bool is_ready(const Sighting& s, std::chrono::steady_clock::time_point now,
              std::chrono::steady_clock::duration stable_for) {
  return s.size > 0 && now - s.since >= stable_for;
}

std::optional<std::string> barcode_of(std::string_view filename) {
  static const std::regex barcode("^[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}$");
  std::string_view candidate = filename;
  if (const auto cut = filename.find_first_of("_ "); cut != std::string_view::npos) {
    candidate = filename.substr(0, cut);
  } else if (const auto dot = filename.rfind('.'); dot != std::string_view::npos && dot > 0) {
    candidate = filename.substr(0, dot);
  }
  std::string out(candidate);
  if (!std::regex_match(out, barcode)) return std::nullopt;
  return out;
}

std::string_view content_type_of(std::string_view filename) {
  const auto dot = filename.rfind('.');
  std::string ext(dot == std::string_view::npos ? std::string_view() : filename.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == "csv") return "text/csv";
  if (ext == "tsv" || ext == "txt") return "text/tab-separated-values";
  return "text/plain";
}

Verdict judge_import(unsigned status, bool run_from_barcode) {
  if (status == 200 || status == 201) return Verdict::done;
  if (status == 400 || status == 413 || status == 415 || status == 422) return Verdict::refused;
  if (status == 404) return run_from_barcode ? Verdict::retry : Verdict::refused;
  if (status == 401 || status == 403) return Verdict::bad_key;
  if (status >= 500) return Verdict::api_away;
  return Verdict::retry;
}

std::chrono::milliseconds backoff_delay(int failures, double jitter) {
  constexpr std::int64_t cap_ms = 60'000;
  const int doublings = std::clamp(failures - 1, 0, 16);
  const std::int64_t full = std::min<std::int64_t>(cap_ms, std::int64_t{1000} << doublings);
  const double spread = std::clamp(jitter, 0.0, 1.0) * 0.25;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(static_cast<double>(full) * (1.0 - spread))));
}

}  // namespace spectra::agent
