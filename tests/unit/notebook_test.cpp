// The notebook without a socket or a database: the exact bytes a signature covers and their hash, who
// changes an entry and who signs it as what, and the .eln file of an entry read back with libzip.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <zip.h>

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lims/notebook/eln_file.hpp"
#include "lims/notebook/rules.hpp"

using namespace spectra;
using namespace spectra::notebook;
namespace json = boost::json;

namespace {

const std::string sample_a = "a0000000-0000-4000-8000-000000000001";
const std::string sample_b = "b0000000-0000-4000-8000-000000000002";

// A u64 big-endian length written out by hand.
std::string u64be(unsigned char low) { return std::string(7, '\0') + static_cast<char>(low); }

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// SHA-256 straight from OpenSSL, not through the code under test.
std::string sha256_hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return hex(std::string(reinterpret_cast<const char*>(md), len));
}

}  // namespace

TEST(CanonicalContent, IsTheDocumentedBytes) {
  const std::string expected = std::string("spectra-eln-content/1\n") +  //
                               u64be(2) + "pH" +                          //
                               u64be(3) + "7.0" +                         //
                               u64be(2) + sample_a + sample_b;
  ASSERT_EQ(expected.size(), 22u + 8 + 2 + 8 + 3 + 8 + 72);
  EXPECT_EQ(canonical_content("pH", "7.0", {sample_b, sample_a}), expected);
  EXPECT_EQ(canonical_content("", "", {}), std::string("spectra-eln-content/1\n") + std::string(24, '\0'));
  // A length of 256 or more spills into the next byte: big-endian.
  const std::string long_title(0x0102, 't');
  const auto c = canonical_content(long_title, "", {});
  EXPECT_EQ(c.substr(22, 8), std::string("\0\0\0\0\0\0\x01\x02", 8));
}

TEST(CanonicalContent, HasAKnownSha256) {
  // Computed independently in a shell:
  //   { printf 'spectra-eln-content/1\n\0\0\0\0\0\0\0\002pH\0\0\0\0\0\0\0\0037.0\0\0\0\0\0\0\0\002';
  //     printf 'a0000000-0000-4000-8000-000000000001b0000000-0000-4000-8000-000000000002'; } | sha256sum
  const std::string known = "7ad51470b9521ebd4252eb159fb460304a49fa3b92379198a67583d2ff2f7d3a";
  EXPECT_EQ(hex(content_sha256("pH", "7.0", {sample_a, sample_b})), known);
  EXPECT_EQ(sha256_hex(canonical_content("pH", "7.0", {sample_a, sample_b})), known);
  EXPECT_EQ(content_sha256("pH", "7.0", {}).size(), 32u);
}

TEST(CanonicalContent, SampleOrderAndCaseDoNotChangeTheHash) {
  const auto h = content_sha256("pH", "7.0", {sample_a, sample_b});
  EXPECT_EQ(content_sha256("pH", "7.0", {sample_b, sample_a}), h);
  std::string upper_b = sample_b;
  for (auto& ch : upper_b) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(content_sha256("pH", "7.0", {upper_b, sample_a}), h);
  EXPECT_EQ(canonical_content("pH", "7.0", {upper_b, sample_a}), canonical_content("pH", "7.0", {sample_a, sample_b}));
}

TEST(CanonicalContent, MovingACharacterBetweenTitleAndBodyChangesTheHash) {
  const auto h = content_sha256("pH", "7.0", {sample_a});
  EXPECT_NE(content_sha256("pH7", ".0", {sample_a}), h);
  EXPECT_NE(content_sha256("p", "H7.0", {sample_a}), h);
  EXPECT_NE(content_sha256("", "pH7.0", {sample_a}), h);
  EXPECT_NE(content_sha256("pH7.0", "", {sample_a}), h);
}

TEST(CanonicalContent, AddingOrRemovingASampleChangesTheHash) {
  const auto two = content_sha256("pH", "7.0", {sample_a, sample_b});
  const auto one = content_sha256("pH", "7.0", {sample_a});
  const auto none = content_sha256("pH", "7.0", {});
  EXPECT_NE(two, one);
  EXPECT_NE(one, none);
  EXPECT_NE(two, none);
  // A sample id cannot be smuggled in as the end of the body either.
  EXPECT_NE(content_sha256("pH", "7.0" + sample_a, {}), one);
  EXPECT_NE(content_sha256("pH", "7.1", {sample_a}), one);
  EXPECT_NE(content_sha256("ph", "7.0", {sample_a}), one) << "title case matters";
}

TEST(NotebookRules, OnlyTheAuthorChangesAnUnsignedEntry) {
  EXPECT_EQ(edit_refusal("u1", "u1", false), std::nullopt);
  const auto signed_ = edit_refusal("u1", "u1", true);
  ASSERT_NE(signed_, std::nullopt);
  EXPECT_FALSE(signed_->forbidden) << "409";
  EXPECT_FALSE(signed_->message.empty());
  for (bool is_signed : {false, true}) {
    const auto other = edit_refusal("u1", "u2", is_signed);
    ASSERT_NE(other, std::nullopt);
    EXPECT_TRUE(other->forbidden) << "403";
    EXPECT_FALSE(other->message.empty());
  }
}

TEST(NotebookRules, OnlyTheAuthorSignsAsAuthorAndOnlyOthersReviewOrApprove) {
  EXPECT_EQ(meaning_refusal("author", "u1", "u1"), std::nullopt);
  EXPECT_NE(meaning_refusal("author", "u1", "u2"), std::nullopt);
  for (const char* meaning : {"reviewer", "approver"}) {
    // Separation of duties: the author never reviews or approves their own entry.
    EXPECT_NE(meaning_refusal(meaning, "u1", "u1"), std::nullopt) << meaning;
    EXPECT_EQ(meaning_refusal(meaning, "u1", "u2"), std::nullopt) << meaning;
  }
}

TEST(NotebookRules, ASignatureCoversOnlyTheContentTheSignerRead) {
  const std::string now = std::string(64, 'a');
  EXPECT_EQ(stale_content_refusal(now, now), std::nullopt);
  EXPECT_EQ(stale_content_refusal(std::string(64, 'A'), now), std::nullopt);  // the same hash in upper case
  const auto refused = stale_content_refusal(std::string(63, 'a') + "b", now);
  ASSERT_NE(refused, std::nullopt);
  EXPECT_NE(refused->find(now), std::string::npos) << *refused;  // names the hash to read again
  EXPECT_NE(stale_content_refusal("", now), std::nullopt);
}

// ---- The .eln file ----

namespace {

struct Archive {
  std::map<std::string, std::string> files;  // name -> bytes, directories excluded
  std::set<std::string> directories;         // names ending in '/'
  std::vector<std::string> all;              // every name, in archive order
};

Archive read_zip(const std::string& bytes) {
  Archive out;
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!src) throw std::runtime_error("zip_source_buffer_create failed");
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!za) {
    zip_source_free(src);
    std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw std::runtime_error("zip_open_from_source: " + why);
  }
  const auto n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st) < 0) throw std::runtime_error("zip_stat_index");
    const std::string name = st.name;
    out.all.push_back(name);
    if (!name.empty() && name.back() == '/') {
      out.directories.insert(name);
      continue;
    }
    std::string data(static_cast<std::size_t>(st.size), '\0');
    zip_file_t* f = zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0);
    if (!f) throw std::runtime_error("zip_fopen_index " + name);
    const auto got = zip_fread(f, data.data(), st.size);
    zip_fclose(f);
    if (got != static_cast<zip_int64_t>(st.size)) throw std::runtime_error("short read of " + name);
    out.files[name] = data;
  }
  zip_discard(za);
  return out;
}

ElnEntry sample_entry() {
  ElnEntry e;
  e.id = "11111111-2222-4333-8444-555555555555";
  e.title = "Buffer prep \xe2\x80\x94 pH 7.0";
  e.body_markdown = "# Buffer\n\nMixed **50 mL** of phosphate.\n";
  e.body_html = "<h1>Buffer</h1>\n<p>Mixed <strong>50 mL</strong> of phosphate.</p>\n";
  e.created_at = "2024-05-01T10:00:00Z";
  e.updated_at = "2024-05-01T11:00:00Z";
  e.tags = {"buffer", "phosphate"};
  e.sample_ids = {sample_a, sample_b};
  e.author = {"aaaaaaaa-0000-4000-8000-000000000001", "Ada Author", "ada@example.org"};
  const ElnPerson reviewer{"bbbbbbbb-0000-4000-8000-000000000002", "Rui Reviewer", ""};
  e.signers = {e.author, reviewer};
  e.signatures = {
      {"cccccccc-0000-4000-8000-000000000001", e.author.id, e.author.name, "author", std::string(64, 'a'),
       "2024-05-01T12:00:00Z", true},
      {"cccccccc-0000-4000-8000-000000000002", reviewer.id, reviewer.name, "reviewer", std::string(64, 'b'),
       "2024-05-01T13:00:00Z", false},
  };
  e.attachments = {
      {"dddddddd-0000-4000-8000-000000000001", "../../etc/passwd", "text/plain", "root:x:0:0::/root:/bin/sh\n"},
      {"eeeeeeee-0000-4000-8000-000000000002", "spec\x01trum\n.csv", "text/csv", std::string("1,2\n3,\0\n", 8)},
  };
  return e;
}

const json::object* node(const json::array& graph, const std::string& id) {
  for (const auto& n : graph)
    if (n.is_object() && n.as_object().contains("@id") && n.as_object().at("@id") == json::value(id)) return &n.as_object();
  return nullptr;
}

bool has_type(const json::object& n, const std::string& type) {
  if (!n.contains("@type")) return false;
  const auto& t = n.at("@type");
  if (t.is_string()) return t.as_string() == type;
  if (t.is_array())
    for (const auto& x : t.as_array())
      if (x.is_string() && x.as_string() == type) return true;
  return false;
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/') {
      out.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

}  // namespace

TEST(ElnFile, TheMetadataAloneIsValidRoCrateJson) {
  const auto e = sample_entry();
  const auto text = ro_crate_metadata(e, "2024-06-01T00:00:00Z", "1.2.3");
  json::value v;
  ASSERT_NO_THROW(v = json::parse(text)) << text;
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.as_object().at("@context"), "https://w3id.org/ro/crate/1.1/context");
  ASSERT_TRUE(v.as_object().at("@graph").is_array());
  // Every node has an @id, and no two share one.
  std::set<std::string> ids;
  for (const auto& n : v.as_object().at("@graph").as_array()) {
    ASSERT_TRUE(n.is_object());
    ASSERT_TRUE(n.as_object().contains("@id")) << json::serialize(n);
    EXPECT_TRUE(ids.insert(str(n.as_object().at("@id"))).second) << "duplicate @id " << n.as_object().at("@id");
  }
}

TEST(ElnFile, TheArchiveIsOneFolderWithACrateThatDescribesEveryFileExactly) {
  const auto e = sample_entry();
  const std::string bytes = build_eln(e, "2024-06-01T00:00:00Z", "1.2.3");
  Archive a;
  ASSERT_NO_THROW(a = read_zip(bytes));
  const std::string root = eln_name(e) + "/";
  EXPECT_EQ(root, "eln-entry-" + e.id + "/");

  // Exactly one top-level folder; no path escapes it.
  std::set<std::string> top;
  for (const auto& name : a.all) {
    ASSERT_FALSE(name.empty());
    EXPECT_NE(name.front(), '/') << name;
    EXPECT_EQ(name.find('\\'), std::string::npos) << name;
    for (const auto& part : components(name)) {
      EXPECT_NE(part, "..") << name;
      EXPECT_NE(part, ".") << name;
    }
    for (unsigned char c : name) EXPECT_GE(c, 0x20) << "control character in " << name;
    top.insert(name.substr(0, name.find('/') + 1));
  }
  EXPECT_EQ(top, std::set<std::string>{root});
  EXPECT_TRUE(a.directories.count(root));

  // The crate.
  ASSERT_TRUE(a.files.count(root + "ro-crate-metadata.json"));
  json::value doc;
  ASSERT_NO_THROW(doc = json::parse(a.files.at(root + "ro-crate-metadata.json")));
  const auto& crate = doc.as_object();
  EXPECT_EQ(crate.at("@context"), "https://w3id.org/ro/crate/1.1/context");
  ASSERT_TRUE(crate.at("@graph").is_array());
  const auto& graph = crate.at("@graph").as_array();

  const auto* descriptor = node(graph, "ro-crate-metadata.json");
  ASSERT_NE(descriptor, nullptr);
  EXPECT_TRUE(has_type(*descriptor, "CreativeWork"));
  EXPECT_EQ(descriptor->at("about"), (json::object{{"@id", "./"}}));
  EXPECT_EQ(descriptor->at("conformsTo"), (json::object{{"@id", "https://w3id.org/ro/crate/1.1"}}));

  const auto* dataset = node(graph, "./");
  ASSERT_NE(dataset, nullptr);
  EXPECT_TRUE(has_type(*dataset, "Dataset"));
  const std::string entry_id = "./entry-" + e.id + "/";
  ASSERT_TRUE(dataset->at("hasPart").is_array());
  bool names_entry = false;
  for (const auto& p : dataset->at("hasPart").as_array()) names_entry |= p.as_object().at("@id") == json::value(entry_id);
  EXPECT_TRUE(names_entry) << json::serialize(dataset->at("hasPart"));
  EXPECT_TRUE(a.directories.count(root + entry_id.substr(2))) << "the entry folder is in the archive";

  const auto* entry = node(graph, entry_id);
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(has_type(*entry, "Dataset"));
  EXPECT_EQ(entry->at("name"), json::value(e.title));
  const std::string author_ref = str(entry->at("author").as_object().at("@id"));
  const auto* author = node(graph, author_ref);
  ASSERT_NE(author, nullptr) << author_ref;
  EXPECT_TRUE(has_type(*author, "Person"));
  EXPECT_EQ(author->at("name"), json::value(e.author.name));
  EXPECT_EQ(entry->at("keywords"), "buffer,phosphate");
  EXPECT_EQ(entry->at("mentions").as_array().size(), 2u);

  // A Person for each signer, and each signature's author is one of them.
  std::set<std::string> person_ids;
  for (const auto& n : graph)
    if (has_type(n.as_object(), "Person")) person_ids.insert(str(n.as_object().at("@id")));
  EXPECT_EQ(person_ids.size(), 2u) << "the author signed too, and is described once";
  for (const auto& s : e.signers) {
    bool found = false;
    for (const auto& n : graph)
      if (has_type(n.as_object(), "Person") && n.as_object().at("identifier") == json::value(s.id)) {
        found = true;
        EXPECT_EQ(n.as_object().at("name"), json::value(s.name));
      }
    EXPECT_TRUE(found) << s.id;
  }
  for (const auto& n : graph)
    if (has_type(n.as_object(), "Review")) {
      const auto ref = str(n.as_object().at("author").as_object().at("@id"));
      EXPECT_TRUE(person_ids.count(ref)) << ref;
    }

  // The File nodes and the archive's files are the same set, byte for byte.
  std::set<std::string> described;
  for (const auto& n : graph) {
    const auto& o = n.as_object();
    if (!has_type(o, "File")) continue;
    const std::string id = str(o.at("@id"));
    ASSERT_EQ(id.rfind("./", 0), 0u) << id;
    const std::string path = root + id.substr(2);
    EXPECT_TRUE(described.insert(path).second) << "described twice: " << id;
    ASSERT_TRUE(a.files.count(path)) << id << " is not in the archive";
    const auto& data = a.files.at(path);
    EXPECT_EQ(o.at("contentSize"), json::value(std::to_string(data.size()))) << id;
    EXPECT_EQ(o.at("sha256"), json::value(sha256_hex(data))) << id;
  }
  std::set<std::string> archived;
  for (const auto& [name, data] : a.files)
    if (name != root + "ro-crate-metadata.json") archived.insert(name);
  EXPECT_EQ(described, archived);
  // The entry dataset lists its files.
  std::set<std::string> parts;
  for (const auto& p : entry->at("hasPart").as_array()) parts.insert(root + str(p.as_object().at("@id")).substr(2));
  EXPECT_EQ(parts, archived);
  EXPECT_EQ(archived.size(), 3u + e.attachments.size());

  // The attachments kept their bytes, under names that stay in the entry folder.
  const std::string folder = root + "entry-" + e.id + "/";
  for (const auto& att : e.attachments) {
    int found = 0;
    for (const auto& [name, data] : a.files)
      if (name.rfind(folder + att.id.substr(0, 8) + "-", 0) == 0) {
        ++found;
        EXPECT_EQ(data, att.bytes) << name;
        EXPECT_EQ(name.find('/', folder.size()), std::string::npos) << name;
      }
    EXPECT_EQ(found, 1) << att.filename;
  }
  ASSERT_TRUE(a.files.count(folder + "entry.md"));
  EXPECT_EQ(a.files.at(folder + "entry.md"), e.body_markdown);
  EXPECT_EQ(a.files.at(folder + "entry.html"), e.body_html);

  // The signatures, with whether each matches the entry.
  ASSERT_TRUE(a.files.count(folder + "signatures.json"));
  json::value sigs;
  ASSERT_NO_THROW(sigs = json::parse(a.files.at(folder + "signatures.json")));
  ASSERT_TRUE(sigs.is_array());
  ASSERT_EQ(sigs.as_array().size(), 2u);
  std::map<std::string, bool> valid;
  for (const auto& s : sigs.as_array()) valid[str(s.as_object().at("id"))] = s.as_object().at("valid").as_bool();
  EXPECT_EQ(valid, (std::map<std::string, bool>{{e.signatures[0].id, true}, {e.signatures[1].id, false}}));
  for (const auto& s : sigs.as_array()) {
    const auto& o = s.as_object();
    const auto& original = str(o.at("id")) == e.signatures[0].id ? e.signatures[0] : e.signatures[1];
    EXPECT_EQ(o.at("signer_id"), json::value(original.signer_id));
    EXPECT_EQ(o.at("meaning"), json::value(original.meaning));
    EXPECT_EQ(o.at("content_sha256"), json::value(original.content_sha256_hex));
  }
}

TEST(ElnFile, AnEntryWithoutSignaturesOrAttachmentsStillMakesAValidArchive) {
  ElnEntry e;
  e.id = "22222222-0000-4000-8000-000000000000";
  e.title = "Empty";
  e.author = {"aaaaaaaa-0000-4000-8000-000000000001", "Ada Author", ""};
  Archive a;
  ASSERT_NO_THROW(a = read_zip(build_eln(e, "2024-06-01T00:00:00Z", "1.2.3")));
  const std::string folder = eln_name(e) + "/entry-" + e.id + "/";
  EXPECT_EQ(a.files.size(), 4u);
  ASSERT_TRUE(a.files.count(folder + "signatures.json"));
  EXPECT_EQ(json::parse(a.files.at(folder + "signatures.json")), json::array{});
  EXPECT_NO_THROW(json::parse(a.files.at(eln_name(e) + "/ro-crate-metadata.json")));
}

TEST(ElnFile, ALongNonAsciiAttachmentNameKeepsTheMetadataValidUtf8) {
  // A 151-byte name of 50 euro signs and an "x": shortening it to its last 120 bytes must not cut a
  // character in two, or the crate is no longer JSON.
  auto e = sample_entry();
  std::string name;
  for (int i = 0; i < 50; ++i) name += "\xe2\x82\xac";
  name += "x";
  e.attachments = {{"ffffffff-0000-4000-8000-000000000001", name, "text/plain", "data"}};
  const auto text = ro_crate_metadata(e, "2024-06-01T00:00:00Z", "1.2.3");
  EXPECT_NO_THROW(json::parse(text));
  Archive a;
  ASSERT_NO_THROW(a = read_zip(build_eln(e, "2024-06-01T00:00:00Z", "1.2.3")));
  EXPECT_NO_THROW(json::parse(a.files.at(eln_name(e) + "/ro-crate-metadata.json")));
}

TEST(ElnFile, SomeoneWhoSignsTwiceIsDescribedOnce) {
  // One person may sign an entry as reviewer and as approver (one signature per signer and meaning);
  // the export lists a signer per signature. The crate's @ids stay unique.
  auto e = sample_entry();
  const ElnPerson reviewer{"bbbbbbbb-0000-4000-8000-000000000002", "Rui Reviewer", ""};
  e.signers = {e.author, reviewer, reviewer};
  e.signatures.push_back({"cccccccc-0000-4000-8000-000000000003", reviewer.id, reviewer.name, "approver",
                          std::string(64, 'b'), "2024-05-01T14:00:00Z", false});
  const auto v = json::parse(ro_crate_metadata(e, "2024-06-01T00:00:00Z", "1.2.3"));
  std::map<std::string, int> seen;
  for (const auto& n : v.as_object().at("@graph").as_array()) ++seen[str(n.as_object().at("@id"))];
  for (const auto& [id, count] : seen) EXPECT_EQ(count, 1) << id;
}

namespace {

// A folder of files for one test, removed with it.
struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("spectra-eln-test-" + std::to_string(::getpid()) + "-" +
                                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path / name, std::ios::binary) << bytes;
    return path / name;
  }
};

std::string noise(std::size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random());
  return out;
}

// An attachment whose bytes are in `file`, stated as `bytes` (what the content store's row says).
ElnAttachment in_file(const std::string& id, const std::string& filename, const std::filesystem::path& file,
                      const std::string& bytes) {
  ElnAttachment a{id, filename, "application/octet-stream", {}};
  a.file = file;
  a.size = bytes.size();
  a.sha256_hex = sha256_hex(bytes);
  return a;
}

}  // namespace

TEST(ElnFile, AttachmentsInFilesAreReadAPieceAtATimeIntoACompleteArchive) {
  const TempDir dir;
  auto e = sample_entry();  // two attachments at hand, as old rows keep them
  const std::string big = noise((3 << 20) + 12345, 7), small = "wavelength,counts\n532,1200\n";
  const auto big_file = dir.write("big", big);
  // The same file twice (the content store keeps the same bytes once), an empty one and a small one.
  e.attachments.push_back(in_file("f0000000-0000-4000-8000-000000000001", "scan.h5", big_file, big));
  e.attachments.push_back(in_file("f0000000-0000-4000-8000-000000000002", "scan again.h5", big_file, big));
  e.attachments.push_back(in_file("f0000000-0000-4000-8000-000000000003", "empty.txt", dir.write("empty", ""), ""));
  e.attachments.push_back(in_file("f0000000-0000-4000-8000-000000000004", "peaks.csv", dir.write("small", small), small));

  constexpr std::size_t piece = 64 << 10;
  ElnWriter writer(e, "2024-06-01T00:00:00Z", "1.2.3", piece);
  std::string zip;
  std::size_t pieces = 0, largest = 0;
  while (auto p = writer.next()) {
    ASSERT_FALSE(p->empty()) << "an empty piece would end a chunked body";
    largest = std::max(largest, p->size());
    zip += *p;
    ++pieces;
  }
  EXPECT_EQ(writer.next(), std::nullopt) << "the end stays the end";
  // Memory follows the piece: no piece holds much more than one read of a file.
  EXPECT_LE(largest, 2 * piece + 16384);
  EXPECT_GE(pieces, 2 * big.size() / piece);

  Archive a;
  ASSERT_NO_THROW(a = read_zip(zip));
  const std::string root = eln_name(e) + "/", folder = root + "entry-" + e.id + "/";
  EXPECT_EQ(a.files.size(), 4u + e.attachments.size());
  for (const auto& att : e.attachments) {
    const std::string name = folder + att.id.substr(0, 8) + "-" + att.filename;
    if (att.file.empty()) continue;  // the two at hand are checked by the test above
    ASSERT_TRUE(a.files.count(name)) << name;
    EXPECT_TRUE(a.files.at(name) == (att.size == big.size() ? big : att.size ? small : "")) << name;
  }
  // The crate states each file's size and hash, and they are the archive's.
  const auto doc = json::parse(a.files.at(root + "ro-crate-metadata.json"));
  int files = 0;
  for (const auto& n : doc.at("@graph").as_array()) {
    const auto& o = n.as_object();
    if (!has_type(o, "File")) continue;
    ++files;
    const auto& data = a.files.at(root + str(o.at("@id")).substr(2));
    EXPECT_EQ(o.at("contentSize"), json::value(std::to_string(data.size())));
    EXPECT_EQ(o.at("sha256"), json::value(sha256_hex(data)));
  }
  EXPECT_EQ(files, 3 + static_cast<int>(e.attachments.size()));
}

TEST(ElnFile, AFileThatIsNotWhatTheCrateStatesStopsTheArchive) {
  const TempDir dir;
  const std::string bytes = noise(200000, 3);
  const auto file = dir.write("stored", bytes);
  auto drain = [](const ElnAttachment& att) {
    auto e = sample_entry();
    e.attachments.push_back(att);
    ElnWriter writer(e, "2024-06-01T00:00:00Z", "1.2.3", 4096);
    while (writer.next()) {
    }
  };
  const std::string id = "f0000000-0000-4000-8000-000000000001";
  EXPECT_NO_THROW(drain(in_file(id, "ok.bin", file, bytes)));
  auto other = bytes;
  other.back() ^= 1;
  EXPECT_THROW(drain(in_file(id, "changed.bin", file, other)), std::runtime_error);  // the same size, another hash
  EXPECT_THROW(drain(in_file(id, "short.bin", file, bytes + "x")), std::runtime_error);
  EXPECT_THROW(drain(in_file(id, "long.bin", file, bytes.substr(1))), std::runtime_error);
  EXPECT_THROW(drain(in_file(id, "gone.bin", dir.path / "missing", bytes)), std::runtime_error);
}

TEST(ElnFile, AnArchiveLeftUnfinishedIsDroppedCleanly) {
  // The client goes away in the middle: the writer is destroyed with a file open and no directory written.
  const TempDir dir;
  const std::string bytes = noise(100000, 5);
  auto e = sample_entry();
  e.attachments.push_back(in_file("f0000000-0000-4000-8000-000000000001", "a.bin", dir.write("a", bytes), bytes));
  auto writer = std::make_unique<ElnWriter>(e, "2024-06-01T00:00:00Z", "1.2.3", 1024);
  ASSERT_TRUE(writer->next());
  ASSERT_TRUE(writer->next());
  EXPECT_NO_THROW(writer.reset());
}
