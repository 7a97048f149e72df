// Attachments as their users check them: raw and multipart uploads linked to a run, a sample or a
// notebook entry; type spoofing refused by the file's own bytes (an executable called .png is 415);
// storage by content under DATA_DIR (the same bytes once); downloads with type, disposition, nosniff
// and ETag; the size limit; roles; another organization's ids; and the .eln export carrying them.
#include <gtest/gtest.h>
#include <zip.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <thread>
#include <string>
#include <vector>

#include "platform/crypto.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0", 29);
const std::string elf("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0", 20);

std::string a_run(const TestOrg& org) {
  const std::string tool(owner().exec("INSERT INTO instruments (organization_id, name, vendor, model, serial_number)"
                                      " VALUES ($1, 'T', 'V', 'M', 'A-' || gen_random_uuid()) RETURNING id",
                                      db::Params(org.id)).get(0, 0));
  const std::string smp(owner().exec("INSERT INTO samples (organization_id, name, sample_type, barcode) VALUES ($1, 'S',"
                                     " 'wafer', 'AT-' || substr(md5(random()::text), 1, 10)) RETURNING id",
                                     db::Params(org.id)).get(0, 0));
  return std::string(owner().exec("INSERT INTO runs (organization_id, instrument_id, sample_id, status)"
                                  " VALUES ($1, $2, $3, 'RUNNING') RETURNING id", db::Params(org.id, tool, smp)).get(0, 0));
}

HttpResponse upload_raw(const std::string& token, const std::string& query, const std::string& type, const std::string& bytes) {
  return analysis("POST", "/api/v1/attachments?" + query, token, bytes, {{"Content-Type", type}});
}

std::string multipart(const std::string& boundary, const std::vector<std::vector<std::string>>& parts) {
  // each part: {name, filename or "", content type or "", data}
  std::string body;
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p[0] + "\"";
    if (!p[1].empty()) body += "; filename=\"" + p[1] + "\"";
    body += "\r\n";
    if (!p[2].empty()) body += "Content-Type: " + p[2] + "\r\n";
    body += "\r\n" + p[3] + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

std::size_t files_under(const fs::path& root) {
  std::size_t n = 0;
  if (!fs::exists(root)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) ++n;
  return n;
}

std::int64_t attachments_of(const std::string& org) {
  return count("SELECT count(*) FROM attachments WHERE organization_id = $1", db::Params(org));
}

}  // namespace

TEST(Attachments, ARawUploadIsStoredByContentAndDownloadedAsItWas) {
  auto org = make_org();
  const std::string tech = login(org.user("technician"));
  const std::string run = a_run(org);
  const std::string csv = "site,thickness_nm\n1,101.5\n2,99.8\n";
  auto up = upload_raw(tech, "run_id=" + run + "&filename=thickness.csv", "text/csv; charset=utf-8", csv);
  ASSERT_EQ(up.status, 201u) << describe(up);
  const auto a = up.json();
  const std::string id = str(a, "id"), sha = crypto::to_hex(crypto::sha256(csv));
  EXPECT_EQ(str(a, "filename"), "thickness.csv");
  EXPECT_EQ(str(a, "content_type"), "text/csv");
  EXPECT_EQ(a.at("size_bytes").as_int64(), static_cast<std::int64_t>(csv.size()));
  EXPECT_EQ(str(a, "sha256"), sha);
  EXPECT_EQ(str(a.at("links").at(0), "run_id"), run);
  EXPECT_EQ(db_text("SELECT encode(sha256, 'hex') FROM attachments WHERE id = $1", db::Params(id)), sha);
  EXPECT_EQ(db_text("SELECT (content IS NULL)::text FROM attachments WHERE id = $1", db::Params(id)), "true");
  EXPECT_EQ(count("SELECT count(*) FROM attachment_links WHERE attachment_id = $1 AND run_id = $2", db::Params(id, run)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'attachment.create' AND entity_id = $1", db::Params(id)), 1);

  // On disk: DATA_DIR/ab/cd/<sha256>, the exact bytes.
  const fs::path root = Harness::get().config().data_dir;
  const fs::path file = root / sha.substr(0, 2) / sha.substr(2, 2) / sha;
  ASSERT_TRUE(fs::exists(file)) << file;
  std::ifstream in(file, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), csv);

  // The same bytes again: a second attachment, one stored file.
  const auto stored = files_under(root);
  auto again = upload_raw(tech, "run_id=" + run + "&filename=copy.csv", "text/csv", csv);
  ASSERT_EQ(again.status, 201u);
  EXPECT_EQ(files_under(root), stored);
  EXPECT_EQ(attachments_of(org.id), 2);

  auto down = analysis("GET", "/api/v1/attachments/" + id + "/content", login(org.user("viewer")));
  ASSERT_EQ(down.status, 200u);
  EXPECT_EQ(down.body, csv);
  EXPECT_EQ(down.header("content-type"), "text/csv");
  EXPECT_EQ(down.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(down.header("etag"), "\"" + sha + "\"");
  EXPECT_NE(down.header("content-disposition").find("attachment; filename=\"thickness.csv\""), std::string::npos);
  auto cached = analysis("GET", "/api/v1/attachments/" + id + "/content", tech, "", {{"If-None-Match", "\"" + sha + "\""}});
  EXPECT_EQ(cached.status, 304u);
  EXPECT_TRUE(cached.body.empty());

  auto listed = analysis("GET", "/api/v1/attachments?run_id=" + run, tech);
  ASSERT_EQ(listed.status, 200u);
  EXPECT_EQ(listed.json().at("items").as_array().size(), 2u);
}

TEST(Attachments, MultipartUploadsWithSafeFilenamesAndWhatTheBytesMustBe) {
  auto org = make_org();
  const std::string tech = login(org.user("technician")), eng = login(org.user("engineer"));
  const std::string smp = str(lims("POST", "/api/samples", eng, js(json::object{{"name", "S"}, {"sample_type", "film"}})).json(), "id");
  const std::string boundary = "----spectra-boundary-7MA4YWxk";
  const std::string type = "multipart/form-data; boundary=" + boundary;
  auto up = analysis("POST", "/api/v1/attachments", tech,
                     multipart(boundary, {{"sample_id", "", "", smp}, {"file", "../../etc/x\\\"evil;name.png", "image/png", png}}),
                     {{"Content-Type", type}});
  ASSERT_EQ(up.status, 201u) << describe(up);
  const std::string filename = str(up.json(), "filename");
  EXPECT_EQ(filename.find('/'), std::string::npos);
  EXPECT_EQ(filename.find('"'), std::string::npos);
  EXPECT_EQ(filename.find(';'), std::string::npos);
  EXPECT_TRUE(filename.ends_with(".png")) << filename;
  EXPECT_EQ(str(up.json().at("links").at(0), "sample_id"), smp);

  // An executable called a PNG, declared image/png: refused by its bytes, nothing written.
  const auto before = attachments_of(org.id);
  const auto stored = files_under(Harness::get().config().data_dir);
  auto spoof = analysis("POST", "/api/v1/attachments", tech,
                        multipart(boundary, {{"sample_id", "", "", smp}, {"file", "photo.png", "image/png", elf}}),
                        {{"Content-Type", type}});
  EXPECT_EQ(spoof.status, 415u) << describe(spoof);
  EXPECT_EQ(upload_raw(tech, "sample_id=" + smp + "&filename=photo.png", "image/png", elf).status, 415u);
  EXPECT_EQ(upload_raw(tech, "sample_id=" + smp, "application/x-msdownload", elf).status, 415u);
  EXPECT_EQ(upload_raw(tech, "sample_id=" + smp, "application/json", "{not json").status, 415u);
  EXPECT_EQ(upload_raw(tech, "sample_id=" + smp, "text/plain", std::string("a\0b", 3)).status, 415u);
  // A form without a file names it.
  auto no_file = analysis("POST", "/api/v1/attachments", tech, multipart(boundary, {{"sample_id", "", "", smp}}),
                          {{"Content-Type", type}});
  EXPECT_EQ(no_file.status, 422u);
  EXPECT_TRUE(names(no_file, "file")) << describe(no_file);
  EXPECT_EQ(attachments_of(org.id), before);
  EXPECT_EQ(files_under(Harness::get().config().data_dir), stored);
}

TEST(Attachments, TargetsRolesAndAnotherOrganization) {
  auto org = make_org();
  auto other = make_org();
  const std::string tech = login(org.user("technician"));
  const std::string run = a_run(org), theirs = a_run(other);
  auto none = upload_raw(tech, "filename=a.txt", "text/plain", "hello");
  EXPECT_EQ(none.status, 422u);
  EXPECT_TRUE(names(none, "run_id"));
  const std::string smp = db_text("SELECT sample_id FROM runs WHERE id = $1", db::Params(run));
  EXPECT_EQ(upload_raw(tech, "run_id=" + run + "&sample_id=" + smp, "text/plain", "hello").status, 422u);
  auto foreign = upload_raw(tech, "run_id=" + theirs, "text/plain", "hello");
  EXPECT_EQ(foreign.status, 422u);
  EXPECT_TRUE(names(foreign, "run_id"));
  EXPECT_EQ(upload_raw(tech, "run_id=nope", "text/plain", "hello").status, 400u);
  EXPECT_EQ(upload_raw(tech, "run_id=" + run, "text/plain", "").status, 422u);
  EXPECT_EQ(attachments_of(org.id), 0);
  EXPECT_EQ(attachments_of(other.id), 0);

  EXPECT_EQ(upload_raw(login(org.user("viewer")), "run_id=" + run, "text/plain", "hello").status, 403u);
  EXPECT_EQ(upload_raw(api_key(org, {"attachments:write"}, "technician"), "run_id=" + run, "text/plain", "by key").status, 201u);
  EXPECT_EQ(upload_raw(api_key(org, {"attachments:read"}, "technician"), "run_id=" + run, "text/plain", "x").status, 403u);
  EXPECT_EQ(upload_raw("", "run_id=" + run, "text/plain", "x").status, 401u);

  auto mine = upload_raw(tech, "run_id=" + run, "application/json", R"({"ok":true})");
  ASSERT_EQ(mine.status, 201u);
  const std::string id = str(mine.json(), "id");
  const std::string them = login(other.user("technician"));
  EXPECT_EQ(analysis("GET", "/api/v1/attachments/" + id, them).status, 404u);
  EXPECT_EQ(analysis("GET", "/api/v1/attachments/" + id + "/content", them).status, 404u);
  auto their_list = analysis("GET", "/api/v1/attachments", them);
  ASSERT_EQ(their_list.status, 200u);
  EXPECT_TRUE(their_list.json().at("items").as_array().empty());
}

TEST(Attachments, UploadsOverTheLimitAre413AndNothingIsStored) {
  auto org = make_org();
  const std::string tech = login(org.user("technician"));
  const std::string run = a_run(org);
  Config small = Harness::get().config();
  small.upload_limit = 64 * 1024;
  Harness::get().restart_server(small);
  auto big = upload_raw(tech, "run_id=" + run, "text/plain", std::string(100 * 1024, 'a'));
  auto fits = upload_raw(tech, "run_id=" + run, "text/plain", std::string(60 * 1024, 'b'));
  Harness::get().restart_server(Harness::get().config());
  EXPECT_EQ(big.status, 413u) << describe(big);
  EXPECT_EQ(fits.status, 201u) << describe(fits);
  EXPECT_EQ(attachments_of(org.id), 1);
}

TEST(Attachments, AnElnExportCarriesTheEntrysAttachments) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  auto entry = lims("POST", "/api/eln", eng, js(json::object{{"title", "With a file"}, {"body_markdown", "See the CSV."}}));
  ASSERT_EQ(entry.status, 201u);
  const std::string entry_id = str(entry.json(), "id");
  const std::string csv = "a,b\n1,2\n";
  ASSERT_EQ(upload_raw(eng, "eln_entry_id=" + entry_id + "&filename=data.csv", "text/csv", csv).status, 201u);
  auto r = lims("GET", "/api/eln/" + entry_id + "/export", eng);
  ASSERT_EQ(r.status, 200u);
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(r.body.data(), r.body.size(), 0, &error);
  zip_t* z = zip_open_from_source(src, ZIP_RDONLY, &error);
  ASSERT_NE(z, nullptr);
  std::string found;
  for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); ++i) {
    const std::string name = zip_get_name(z, static_cast<zip_uint64_t>(i), 0);
    if (!name.ends_with("data.csv")) continue;
    zip_stat_t st;
    zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st);
    found.resize(st.size);
    zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0);
    zip_fread(f, found.data(), st.size);
    zip_fclose(f);
  }
  zip_close(z);
  EXPECT_EQ(found, csv);
}

// With CLAMD_SOCKET set, every upload is scanned by ClamAV's daemon before it is stored: the EICAR
// test file is refused naming its signature (and audited), a clean file is stored, and an unreachable
// daemon refuses the upload (503) rather than store an unscanned file. `make test` runs a private
// clamd (scripts/clamd) and names its socket in SPECTRA_TEST_CLAMD_SOCKET.
TEST(Attachments, ClamdRefusesMalwareAndAnUnreachableScannerStoresNothing) {
  const char* socket = std::getenv("SPECTRA_TEST_CLAMD_SOCKET");
  if (!socket || !*socket) GTEST_SKIP() << "SPECTRA_TEST_CLAMD_SOCKET is not set (make test starts clamd)";
  auto org = make_org();
  const std::string tech = login(org.user("technician"));
  const std::string run = a_run(org);
  // The EICAR anti-malware test file, assembled here so that this source is not itself flagged.
  const std::string eicar = std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*";
  ASSERT_EQ(eicar.size(), 68u);

  Config scanned = Harness::get().config();
  scanned.clamd_socket = socket;
  Harness::get().restart_server(scanned);
  const auto stored = files_under(Harness::get().config().data_dir);
  auto infected = upload_raw(tech, "run_id=" + run + "&filename=readme.txt", "text/plain", eicar);
  auto clean = upload_raw(tech, "run_id=" + run + "&filename=clean.txt", "text/plain", "a clean note\n");
  const auto stored_after = files_under(Harness::get().config().data_dir);
  scanned.clamd_socket = std::string(socket) + ".stopped";  // where no clamd listens
  Harness::get().restart_server(scanned);
  auto unscanned = upload_raw(tech, "run_id=" + run + "&filename=later.txt", "text/plain", "another note\n");
  Harness::get().restart_server(Harness::get().config());

  EXPECT_EQ(infected.status, 422u) << describe(infected);
  EXPECT_TRUE(names(infected, "file")) << describe(infected);
  EXPECT_NE(infected.body.find("Eicar-Test-Signature"), std::string::npos) << infected.body;
  EXPECT_EQ(clean.status, 201u) << describe(clean);
  EXPECT_EQ(stored_after, stored + 1);  // the clean file only
  EXPECT_EQ(unscanned.status, 503u) << describe(unscanned);
  EXPECT_EQ(files_under(Harness::get().config().data_dir), stored_after);
  EXPECT_EQ(attachments_of(org.id), 1);
  std::int64_t rejected = 0;
  for (int i = 0; i < 100 && rejected == 0; ++i) {
    rejected = count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'attachment.rejected'",
                     db::Params(org.id));
    if (rejected == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(rejected, 1);
}
