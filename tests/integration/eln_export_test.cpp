// The .eln export streams its zip: an entry with 40 attachments of 25 MiB (the same bytes, stored once)
// is exported whole while the server's peak memory grows by less than 64 MiB; attachments whose bytes
// old rows keep in the table are exported beside stored ones; a stored file that is not what its row
// says is refused before anything is sent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "platform/crypto.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"
#include "support/http_stream.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// Text that passes the upload's CSV check: a spectrum, line by line, up to exactly `size` bytes.
std::string spectrum_csv(std::size_t size) {
  std::string out = "wavelength_nm,counts\n";
  for (unsigned i = 0; out.size() < size; ++i)
    out += std::to_string(200 + i % 900) + "." + std::to_string(i % 10) + "," + std::to_string((i * 2654435761u) % 65536) + "\n";
  out.resize(size - 1);
  out += "\n";
  return out;
}

class Sha256 {
 public:
  Sha256() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void add(std::string_view bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(md), n));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

// An archive's files (directories left out), each read a piece at a time: its size and SHA-256, and
// the bytes of the small ones (up to 1 MiB). libzip checks each file's CRC-32 as it reads it to the end.
struct ArchivedFile {
  std::uint64_t size = 0;
  std::string sha256_hex, bytes;
};
std::map<std::string, ArchivedFile> read_archive(zip_t* z) {
  std::map<std::string, ArchivedFile> out;
  std::string piece(1 << 20, '\0');
  for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st) < 0) throw std::runtime_error("zip_stat_index");
    const std::string name = st.name;
    if (name.ends_with("/")) continue;
    zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0);
    if (!f) throw std::runtime_error("zip_fopen_index " + name);
    ArchivedFile file;
    Sha256 sha;
    for (;;) {
      const auto got = zip_fread(f, piece.data(), piece.size());
      if (got < 0) {
        const std::string why = zip_file_strerror(f);
        zip_fclose(f);
        throw std::runtime_error("reading " + name + ": " + why);
      }
      if (got == 0) break;
      const std::string_view bytes(piece.data(), static_cast<std::size_t>(got));
      sha.add(bytes);
      file.size += bytes.size();
      if (file.size <= piece.size()) file.bytes += bytes;
    }
    zip_fclose(f);
    if (file.size > piece.size()) file.bytes.clear();
    file.sha256_hex = sha.hex();
    out[name] = std::move(file);
  }
  return out;
}

std::map<std::string, ArchivedFile> read_archive(const std::string& bytes) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  zip_t* z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error) : nullptr;
  if (!z) {
    if (src) zip_source_free(src);
    throw std::runtime_error(std::string("not a zip archive: ") + zip_error_strerror(&error));
  }
  auto out = read_archive(z);
  zip_discard(z);
  return out;
}

// The crate's File nodes: path in the archive (under `root`) → {contentSize, sha256}.
std::map<std::string, std::pair<std::string, std::string>> crate_files(const std::string& metadata, const std::string& root) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  const json::value crate = json::parse(metadata);
  for (const auto& n : crate.at("@graph").as_array()) {
    const auto& o = n.as_object();
    if (!o.at("@type").is_string() || o.at("@type").as_string() != "File") continue;
    out[root + std::string(o.at("@id").as_string()).substr(2)] = {std::string(o.at("contentSize").as_string()),
                                                                  std::string(o.at("sha256").as_string())};
  }
  return out;
}

std::string make_entry(const std::string& token, const std::string& title) {
  auto r = lims("POST", "/api/eln", token, js(json::object{{"title", title}, {"body_markdown", "# " + title + "\n\nScans."}}));
  if (r.status != 201) throw std::runtime_error("creating an entry failed: " + describe(r));
  return str(r.json(), "id");
}

HttpResponse upload(const std::string& token, const std::string& entry, const std::string& filename, const std::string& csv) {
  return analysis("POST", "/api/v1/attachments?eln_entry_id=" + entry + "&filename=" + filename, token, csv,
                  {{"Content-Type", "text/csv"}});
}

// Kilobytes on a line of /proc/<pid>/status (VmRSS: resident now; VmHWM: the peak since the last reset).
std::int64_t status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return -1;
}

// `spectra serve --only lims` as a process of its own, on the test database and content store. Its own
// process, so that what is measured is the server's memory alone: in-process, the tests' memory would
// be counted with it, and AddressSanitizer's quarantine (256 MiB of freed memory by default) would
// hold every piece the server had sent. Here the quarantine is 8 MiB: freed pieces go back to the
// system as they would without the sanitizer, and use-after-free is still caught in recent frees.
class ServerProcess {
 public:
  ServerProcess() {
    {
      boost::asio::io_context io;
      boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
      port_ = probe.local_endpoint().port();
    }
    const auto& h = Harness::get();
    const std::string cmd =
        "exec env ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=8:thread_local_quarantine_size_kb=256"
        " DATABASE_URL='" + h.owner_dsn() + "' DATABASE_APP_URL='" + h.app_dsn() + "' JWT_SECRET='" +
        h.config().jwt_secret + "' AUDIT_KEY='" + test_audit_key() + "' DATA_DIR='" + h.config().data_dir +
        "' LIMS_PORT=" + std::to_string(port_) + " HOST=127.0.0.1 LOG_LEVEL=error LOGIN_MAX_FAILURES_PER_ADDRESS=100000 " +
        SPECTRA_BINARY + " serve --only lims";
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/bash", "bash", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~ServerProcess() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  bool up() const {
    for (int i = 0; i < 200; ++i) {
      try {
        if (http_request(port_, "GET", "/health").status == 200) return true;
      } catch (...) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string login(const TestUser& u) const {
    auto r = http_request(port_, "POST", "/api/auth/login", js(json::object{{"email", u.email}, {"password", u.password}}));
    if (r.status != 200) throw std::runtime_error("login failed: " + describe(r));
    return str(r.json(), "access_token");
  }
  // Starts a new peak (VmHWM) at the resident size now (Linux: "5" to /proc/<pid>/clear_refs).
  bool reset_peak() const {
    std::ofstream f("/proc/" + std::to_string(pid_) + "/clear_refs");
    f << "5";
    f.flush();
    return f.good();
  }
  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace

TEST(ElnExport, FortyAttachmentsOf25MiBStreamWhileTheServersPeakMemoryGrowsByLessThan64MiB) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string entry = make_entry(eng, "Forty scans");
  const std::string small_entry = make_entry(eng, "A warm-up");

  // 25 MiB of CSV, the largest upload MAX_UPLOAD_BYTES allows by default, uploaded once through the
  // route (which stores it once, by its content); the other 39 attachments are rows naming the same
  // stored bytes, inserted as the owner (39 more uploads would test the upload route, for minutes
  // under the sanitizers, not the export).
  const std::size_t size = Harness::get().config().upload_limit;
  ASSERT_EQ(size, 25u << 20);
  const std::string csv = spectrum_csv(size);
  const std::string csv_sha256 = crypto::to_hex(crypto::sha256(csv));
  auto up = upload(eng, entry, "scan-01.csv", csv);
  ASSERT_EQ(up.status, 201u) << describe(up);
  // Rows as VALUES, each id made here: on Citus an INSERT … SELECT is copied through the coordinator
  // with COPY, which row-level security refuses even to the owner.
  std::string attachments = "INSERT INTO attachments (organization_id, id, filename, content_type, size_bytes, sha256,"
                            " uploaded_by, created_at) VALUES ";
  std::string links = "INSERT INTO attachment_links (organization_id, attachment_id, eln_entry_id) VALUES ";
  for (int g = 2; g <= 40; ++g) {
    const std::string id = crypto::uuid_v4(), n = std::to_string(g);
    attachments += std::string(g > 2 ? ", " : "") + "($1, '" + id + "', 'scan-" + (g < 10 ? "0" : "") + n +
                   ".csv', 'text/csv', $2, decode($3, 'hex'), $4, now() + make_interval(secs => " + n + "))";
    links += std::string(g > 2 ? ", " : "") + "($1, '" + id + "', $2)";
  }
  owner().exec(attachments, db::Params(org.id, static_cast<long>(size), csv_sha256, org.user("engineer").id));
  owner().exec(links, db::Params(org.id, entry));
  ASSERT_EQ(count("SELECT count(*) FROM attachment_links WHERE organization_id = $1 AND eln_entry_id = $2",
                  db::Params(org.id, entry)), 40);
  ASSERT_EQ(count("SELECT count(DISTINCT a.sha256) FROM attachments a JOIN attachment_links l ON l.organization_id = a.organization_id AND l.attachment_id = a.id"
                  " WHERE l.organization_id = $1 AND l.eln_entry_id = $2", db::Params(org.id, entry)), 1);

  const ServerProcess server;
  ASSERT_TRUE(server.up()) << "spectra serve did not start";
  const Headers auth{{"Authorization", "Bearer " + server.login(org.user("viewer"))}};
  // Warm: the connections, the statements and the blocking threads exist before the measurement.
  ASSERT_EQ(http_request(server.port(), "GET", "/api/eln/" + small_entry + "/export", {}, auth).status, 200u);

  const fs::path file = fs::temp_directory_path() / ("spectra-eln-export-" + std::to_string(::getpid()) + ".eln");
  struct Remove {
    fs::path p;
    ~Remove() { fs::remove(p); }
  } remove{file};
  const std::int64_t rss_before = status_kb(server.pid(), "VmRSS");
  const std::int64_t peak_since_start = status_kb(server.pid(), "VmHWM");
  ASSERT_TRUE(server.reset_peak()) << "cannot reset the server's VmHWM";
  const auto started = std::chrono::steady_clock::now();
  std::ofstream out(file, std::ios::binary);
  const auto r = http_stream(server.port(), "GET", "/api/eln/" + entry + "/export", auth,
                             [&](std::string_view piece) { out.write(piece.data(), static_cast<std::streamsize>(piece.size())); });
  out.close();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::int64_t peak = status_kb(server.pid(), "VmHWM");
  const std::int64_t rss_after = status_kb(server.pid(), "VmRSS");
  std::printf("[ eln export ] %llu bytes in %.1f s; server RSS %lld kB before (peak since start %lld kB), peak %lld kB"
              " during the export (+%lld kB), RSS %lld kB after\n",
              static_cast<unsigned long long>(r.body_bytes), seconds, static_cast<long long>(rss_before),
              static_cast<long long>(peak_since_start), static_cast<long long>(peak),
              static_cast<long long>(peak - rss_before), static_cast<long long>(rss_after));

  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("content-type"), "application/vnd.eln+zip");
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_TRUE(r.complete) << "the body ended without its last chunk";
  EXPECT_GT(r.body_bytes, 40 * static_cast<std::uint64_t>(size));
  ASSERT_GT(rss_before, 0);
  EXPECT_LT(peak - rss_before, 64 * 1024) << "the server's peak resident memory grew by " << (peak - rss_before) << " kB";

  // The archive is whole: libzip opens it (checking every local header against the directory), reads
  // every file to its end (checking its CRC-32), and the crate states each file's size and hash.
  EXPECT_EQ(fs::file_size(file), r.body_bytes);
  int error = 0;
  zip_t* z = zip_open(file.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error);
  ASSERT_NE(z, nullptr) << "libzip error " << error;
  std::map<std::string, ArchivedFile> files;
  ASSERT_NO_THROW(files = read_archive(z));
  zip_discard(z);
  const std::string root = "eln-entry-" + entry + "/";
  ASSERT_TRUE(files.contains(root + "ro-crate-metadata.json"));
  const auto stated = crate_files(files.at(root + "ro-crate-metadata.json").bytes, root);
  EXPECT_EQ(stated.size(), 43u);  // entry.md, entry.html, signatures.json and the 40 attachments
  EXPECT_EQ(files.size(), stated.size() + 1);
  int scans = 0;
  for (const auto& [path, file_data] : files) {
    if (path == root + "ro-crate-metadata.json") continue;
    ASSERT_TRUE(stated.contains(path)) << path;
    EXPECT_EQ(stated.at(path).first, std::to_string(file_data.size)) << path;
    EXPECT_EQ(stated.at(path).second, file_data.sha256_hex) << path;
    if (path.ends_with(".csv")) {
      ++scans;
      EXPECT_EQ(file_data.size, size) << path;
      EXPECT_EQ(file_data.sha256_hex, csv_sha256) << path;
    }
  }
  EXPECT_EQ(scans, 40);
}

TEST(ElnExport, AttachmentsKeptInTheTableAreExportedBesideStoredOnes) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string entry = make_entry(eng, "Old and new");
  const std::string stored = "x,y\n1,2\n";
  ASSERT_EQ(upload(eng, entry, "new.csv", stored).status, 201u);
  // A row from before revision 10, its bytes in the table.
  const std::string old_bytes = "an attachment kept in the table\n";
  const std::string old_id = crypto::uuid_v4();
  owner().exec(
      "INSERT INTO attachments (organization_id, id, filename, content_type, size_bytes, sha256, content, uploaded_by,"
      "                         created_at)"
      " VALUES ($1, $2, 'old.txt', 'text/plain', octet_length(convert_to($3, 'UTF8')), sha256(convert_to($3, 'UTF8')),"
      "         convert_to($3, 'UTF8'), $4, now() - interval '1 year')",
      db::Params(org.id, old_id, old_bytes, org.user("engineer").id));
  owner().exec("INSERT INTO attachment_links (organization_id, attachment_id, eln_entry_id) VALUES ($1, $2, $3)",
               db::Params(org.id, old_id, entry));

  auto r = lims("GET", "/api/eln/" + entry + "/export", eng);
  ASSERT_EQ(r.status, 200u) << describe(r);
  std::map<std::string, ArchivedFile> files;
  ASSERT_NO_THROW(files = read_archive(r.body));
  const std::string root = "eln-entry-" + entry + "/", folder = root + "entry-" + entry + "/";
  std::map<std::string, std::string> attachments;
  for (const auto& [path, f] : files)
    if (path.ends_with("-old.txt") || path.ends_with("-new.csv")) attachments[path.substr(path.rfind('-') + 1)] = f.bytes;
  EXPECT_EQ(attachments, (std::map<std::string, std::string>{{"old.txt", old_bytes}, {"new.csv", stored}}));
  const auto stated = crate_files(files.at(root + "ro-crate-metadata.json").bytes, root);
  for (const auto& [path, f] : files) {
    if (path == root + "ro-crate-metadata.json") continue;
    ASSERT_TRUE(stated.contains(path)) << path;
    EXPECT_EQ(stated.at(path), std::make_pair(std::to_string(f.size), f.sha256_hex)) << path;
  }
  EXPECT_EQ(files.at(folder + "entry.md").bytes, "# Old and new\n\nScans.");
}

TEST(ElnExport, AStoredFileThatIsNotWhatItsRowSaysIsRefusedBeforeAnythingIsSent) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string entry = make_entry(eng, "Damaged");
  auto up = upload(eng, entry, "scan.csv", "x,y\n1,2\n");
  ASSERT_EQ(up.status, 201u) << describe(up);
  // The row says one byte more than the content store holds.
  owner().exec("UPDATE attachments SET size_bytes = size_bytes + 1 WHERE organization_id = $1 AND id = $2",
               db::Params(org.id, str(up.json(), "id")));
  auto r = lims("GET", "/api/eln/" + entry + "/export", eng);
  EXPECT_EQ(r.status, 500u) << describe(r);
  EXPECT_EQ(r.header("content-type").find("zip"), std::string::npos);
}
