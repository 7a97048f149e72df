#include "lims/notebook/eln_file.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <set>
#include <stdexcept>

#include "platform/crypto.hpp"
#include "platform/json_text.hpp"

namespace json = boost::json;

namespace spectra::notebook {
namespace {

// A file of the entry's folder: its name in the folder, its bytes (at hand, or an attachment's file),
// type and what it is.
struct Part {
  std::string name;
  const std::string* bytes = nullptr;
  const ElnAttachment* file = nullptr;
  std::string type, description;
  std::uint64_t size() const { return bytes ? bytes->size() : file->size; }
  std::string sha256_hex() const { return bytes ? crypto::to_hex(crypto::sha256(*bytes)) : file->sha256_hex; }
};

// A file name that is safe inside an archive: no folders, no control characters, no leading dot.
std::string safe_name(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':' || c == '*' || c == '?' || c == '"' || c == '<' ||
        c == '>' || c == '|')
      out.push_back('_');
    else
      out.push_back(static_cast<char>(c));
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(out.begin());
  if (out.empty()) out = "file";
  if (out.size() > 120) {
    // Keep the end (the extension), starting on a whole UTF-8 character.
    std::size_t from = out.size() - 120;
    while (from < out.size() && (static_cast<unsigned char>(out[from]) & 0xC0) == 0x80) ++from;
    out = out.substr(from);
  }
  return out;
}

std::string signatures_json(const ElnEntry& e) {
  json::array a;
  for (const auto& s : e.signatures)
    a.push_back(json::object{{"id", s.id},
                             {"signer_id", s.signer_id},
                             {"signer_name", s.signer_name},
                             {"meaning", s.meaning},
                             {"signed_at", s.signed_at},
                             {"content_sha256", s.content_sha256_hex},
                             {"valid", s.valid},
                             {"content_encoding", "spectra-eln-content/1"}});
  return json_text(a);
}

// The parts point into `e` and `signatures` (the entry's signatures.json), which must outlive them.
std::vector<Part> parts_of(const ElnEntry& e, const std::string& signatures) {
  std::vector<Part> parts;
  parts.push_back({"entry.md", &e.body_markdown, nullptr, "text/markdown", "The entry as written (markdown)"});
  parts.push_back({"entry.html", &e.body_html, nullptr, "text/html", "The entry rendered to sanitized HTML"});
  parts.push_back({"signatures.json", &signatures, nullptr, "application/json",
                   "Electronic signatures: signer, meaning, time, and the SHA-256 of the signed content"});
  for (const auto& a : e.attachments)
    parts.push_back({a.id.substr(0, 8) + "-" + safe_name(a.filename), a.file.empty() ? &a.bytes : nullptr,
                     a.file.empty() ? nullptr : &a, a.content_type, "Attachment " + a.filename});
  return parts;
}

std::string person_id(const std::string& user_id) { return "#person-" + user_id; }

json::object person_node(const ElnPerson& p) {
  json::object o{{"@id", person_id(p.id)}, {"@type", "Person"}, {"name", p.name}, {"identifier", p.id}};
  if (!p.email.empty()) o["email"] = p.email;
  return o;
}

json::object node_ref(const std::string& id) { return json::object{{"@id", id}}; }

}  // namespace

std::string eln_name(const ElnEntry& e) { return "eln-entry-" + e.id; }

std::string ro_crate_metadata(const ElnEntry& e, const std::string& now, const std::string& version) {
  const std::string folder = "./entry-" + e.id + "/";
  const std::string signatures = signatures_json(e);
  const auto parts = parts_of(e, signatures);
  json::array graph;
  graph.push_back(json::object{{"@id", "ro-crate-metadata.json"},
                               {"@type", "CreativeWork"},
                               {"about", node_ref("./")},
                               {"conformsTo", node_ref("https://w3id.org/ro/crate/1.1")},
                               {"dateCreated", now},
                               {"sdPublisher", node_ref("#publisher")},
                               {"version", "1.0"}});
  graph.push_back(json::object{{"@id", "./"},
                               {"@type", "Dataset"},
                               {"name", "SPECTRA-Lab notebook entry: " + e.title},
                               {"description", "A notebook entry exported from SPECTRA-Lab"},
                               {"datePublished", now},
                               {"hasPart", json::array{node_ref(folder)}}});
  graph.push_back(json::object{{"@id", "#publisher"},
                               {"@type", "Organization"},
                               {"name", "SPECTRA-Lab"},
                               {"description", "SPECTRA-Lab LIMS and electronic lab notebook, version " + version}});

  json::array has_part, mentions, signature_refs;
  for (const auto& p : parts) has_part.push_back(node_ref(folder + p.name));
  for (const auto& s : e.sample_ids) mentions.push_back(node_ref("#sample-" + s));
  for (const auto& s : e.signatures) signature_refs.push_back(node_ref("#signature-" + s.id));
  json::array keywords;
  std::string keyword_text;
  for (const auto& t : e.tags) keyword_text += (keyword_text.empty() ? "" : ",") + t;
  json::object entry{{"@id", folder},
                     {"@type", "Dataset"},
                     {"identifier", e.id},
                     {"name", e.title},
                     {"author", node_ref(person_id(e.author.id))},
                     {"dateCreated", e.created_at},
                     {"dateModified", e.updated_at},
                     {"keywords", keyword_text},
                     {"text", e.body_html},
                     {"encodingFormat", "text/markdown"},
                     {"hasPart", std::move(has_part)},
                     {"mentions", std::move(mentions)},
                     {"review", std::move(signature_refs)}};
  if (!e.amends_entry_id.empty()) entry["isBasedOn"] = node_ref("#entry-" + e.amends_entry_id);
  graph.push_back(std::move(entry));
  for (const auto& p : parts)
    graph.push_back(json::object{{"@id", folder + p.name},
                                 {"@type", "File"},
                                 {"name", p.name},
                                 {"description", p.description},
                                 {"encodingFormat", p.type},
                                 {"contentSize", std::to_string(p.size())},
                                 {"sha256", p.sha256_hex()}});
  // Each person once, however many times they signed.
  std::set<std::string> people{e.author.id};
  graph.push_back(person_node(e.author));
  for (const auto& p : e.signers)
    if (people.insert(p.id).second) graph.push_back(person_node(p));
  for (const auto& s : e.signatures)
    graph.push_back(json::object{{"@id", "#signature-" + s.id},
                                 {"@type", "Review"},
                                 {"name", "Signature (" + s.meaning + ") by " + s.signer_name},
                                 {"author", node_ref(person_id(s.signer_id))},
                                 {"dateCreated", s.signed_at},
                                 {"reviewAspect", s.meaning},
                                 {"description", "Electronic signature, meaning " + s.meaning +
                                                     "; SHA-256 of the signed content " + s.content_sha256_hex +
                                                     (s.valid ? " (matches the entry)" : " (does NOT match the entry)")}});
  for (const auto& s : e.sample_ids)
    graph.push_back(json::object{{"@id", "#sample-" + s}, {"@type", "Thing"}, {"identifier", s}, {"name", "Sample " + s}});
  if (!e.amends_entry_id.empty())
    graph.push_back(json::object{{"@id", "#entry-" + e.amends_entry_id},
                                 {"@type", "CreativeWork"},
                                 {"identifier", e.amends_entry_id},
                                 {"name", "The notebook entry this one amends"}});
  return json_text(json::object{{"@context", "https://w3id.org/ro/crate/1.1/context"}, {"@graph", std::move(graph)}});
}

namespace {

// One item of the archive, in the order written: a folder, a file at hand, or an attachment's file.
struct Item {
  std::string name;
  bool folder = false;
  const std::string* bytes = nullptr;
  const ElnAttachment* file = nullptr;
};

la_ssize_t collect(struct archive*, void* out, const void* bytes, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), n);
  return static_cast<la_ssize_t>(n);
}

}  // namespace

struct ElnWriter::State {
  ElnEntry entry;
  std::string metadata, signatures;
  std::vector<Part> parts;  // they point into `entry` and `signatures`
  std::vector<Item> items;
  std::size_t piece = 0, next_item = 0;
  std::time_t mtime = 0;
  struct archive* zip = nullptr;
  std::string out;  // what libarchive wrote since the last piece was answered
  bool closed = false;
  // The attachment file being read: its descriptor, what is left of it, and the hash so far.
  int fd = -1;
  std::uint64_t left = 0;
  const ElnAttachment* reading = nullptr;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  std::string buffer;

  ~State() {
    // An archive left unfinished (the client went away, a file failed) is closed into `out` and
    // dropped: archive_write_fail would skip the close that frees libarchive's output state.
    if (zip && !closed) archive_write_close(zip);
    if (zip) archive_write_free(zip);
    close_file();
  }

  [[noreturn]] void fail(const std::string& what) {
    const char* why = zip ? archive_error_string(zip) : nullptr;
    throw std::runtime_error("eln: " + what + (why ? std::string(": ") + why : std::string()));
  }
  void check(int rc, const std::string& what) {
    if (rc != ARCHIVE_OK) fail(what);
  }
  void option(const char* key, const char* value) {
    check(archive_write_set_format_option(zip, "zip", key, value), std::string("zip option ") + key);
  }
  void write(const char* bytes, std::size_t n, const std::string& name) {
    while (n > 0) {
      const auto done = archive_write_data(zip, bytes, n);
      if (done <= 0) fail("cannot write " + name);
      bytes += done;
      n -= static_cast<std::size_t>(done);
    }
  }
  void header(const Item& item) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> h(archive_entry_new(), &archive_entry_free);
    archive_entry_set_pathname_utf8(h.get(), item.name.c_str());
    archive_entry_set_mtime(h.get(), mtime, 0);
    archive_entry_set_filetype(h.get(), item.folder ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(h.get(), item.folder ? 0755 : 0644);
    // No size: libarchive then writes the sizes after the data (a data descriptor, Zip64), as a
    // streaming writer must (the CRC is only known at the end); readers take them from the directory.
    check(archive_write_header(zip, h.get()), "cannot add " + item.name);
  }
  void open_file(const ElnAttachment& a) {
    fd = ::open(a.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("eln: cannot open the attachment " + a.id + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != a.size)
      throw std::runtime_error("eln: the attachment " + a.id + " is not of its stated size");
    reading = &a;
    left = a.size;
    if (EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("eln: SHA-256");
  }
  std::size_t read_some(char* to, std::size_t n) {
    for (;;) {
      const auto got = ::read(fd, to, n);
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno != EINTR) throw std::runtime_error("eln: cannot read the attachment " + reading->id + ": " + std::strerror(errno));
    }
  }
  // One piece of the file being read; at its end, its hash checked and its entry finished.
  void read_piece() {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    const std::size_t got = want ? read_some(buffer.data(), want) : 0;
    if (want && !got) throw std::runtime_error("eln: the attachment " + reading->id + " is shorter than stated");
    EVP_DigestUpdate(sha.get(), buffer.data(), got);
    write(buffer.data(), got, reading->id);
    left -= got;
    if (left > 0) return;
    char extra = 0;
    if (read_some(&extra, 1) != 0) throw std::runtime_error("eln: the attachment " + reading->id + " is longer than stated");
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(sha.get(), digest, &length);
    if (crypto::to_hex(std::string_view(reinterpret_cast<const char*>(digest), length)) != reading->sha256_hex)
      throw std::runtime_error("eln: the attachment " + reading->id + " does not match its SHA-256");
    close_file();
    check(archive_write_finish_entry(zip), "cannot finish an attachment");
  }
  void close_file() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    reading = nullptr;
  }
  // The next step: a piece of the file being read, the next item, or the central directory.
  void step() {
    if (reading) return read_piece();
    if (next_item == items.size()) {
      check(archive_write_close(zip), "cannot finish the archive");
      closed = true;
      return;
    }
    const Item& item = items[next_item++];
    header(item);
    if (item.file) return open_file(*item.file);
    if (item.bytes) write(item.bytes->data(), item.bytes->size(), item.name);
    check(archive_write_finish_entry(zip), "cannot finish " + item.name);
  }
};

ElnWriter::ElnWriter(ElnEntry e, const std::string& now, const std::string& version, std::size_t piece)
    : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.entry = std::move(e);
  s.piece = std::max<std::size_t>(piece, 1);
  s.buffer.resize(s.piece);
  s.mtime = std::time(nullptr);
  s.metadata = ro_crate_metadata(s.entry, now, version);
  s.signatures = signatures_json(s.entry);
  s.parts = parts_of(s.entry, s.signatures);
  const std::string root = eln_name(s.entry) + "/";
  const std::string folder = root + "entry-" + s.entry.id + "/";
  s.items.push_back({root, true});
  s.items.push_back({root + "ro-crate-metadata.json", false, &s.metadata});
  s.items.push_back({folder, true});
  for (const auto& p : s.parts) s.items.push_back({folder + p.name, false, p.bytes, p.file});

  if (!s.sha) throw std::runtime_error("eln: SHA-256");
  s.zip = archive_write_new();
  if (!s.zip) throw std::runtime_error("eln: libarchive");
  s.check(archive_write_set_format_zip(s.zip), "zip format");
  s.option("hdrcharset", "UTF-8");
  // Stored as they are (one setting for the whole archive): attachments are mostly compressed formats
  // already, and deflating a gigabyte would hold a blocking thread for seconds.
  s.option("compression", "store");
  // No blocks: each write reaches `out` as it is made, and nothing pads the end of the zip.
  s.check(archive_write_set_bytes_per_block(s.zip, 0), "block size");
  s.check(archive_write_open(s.zip, &s.out, nullptr, collect, nullptr), "open");
}

ElnWriter::~ElnWriter() = default;

std::optional<std::string> ElnWriter::next() {
  State& s = *s_;
  if (s.closed && s.out.empty()) return std::nullopt;
  s.out.reserve(s.piece + 4096);
  while (!s.closed && s.out.size() < s.piece) s.step();
  std::string piece = std::move(s.out);
  s.out = std::string();
  if (piece.empty()) return std::nullopt;
  return piece;
}

std::string build_eln(const ElnEntry& e, const std::string& now, const std::string& version) {
  ElnWriter writer(e, now, version);
  std::string out;
  while (auto piece = writer.next()) out += *piece;
  return out;
}

}  // namespace spectra::notebook
