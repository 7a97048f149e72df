// The notebook as its users check it: entries linked to samples with sanitized HTML (the whole XSS
// corpus over HTTP), the author's edits until a signature locks the entry, signatures with the password
// again (wrong ones refused, audited and throttled), verification that notices a direct edit of the
// database, amendments, the .eln export read back with libzip, roles, another organization's ids, and
// bad input that writes nothing.
#include <gtest/gtest.h>
#include <zip.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/api.hpp"
#include "support/harness.hpp"
#include "support/html_check.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

constexpr const char* password = "Correct-Horse-42";  // every make_org() user's

std::string sample_of(const std::string& token, const std::string& name) {
  auto r = lims("POST", "/api/samples", token, js(json::object{{"name", name}, {"sample_type", "film"}}));
  if (r.status != 201) throw std::runtime_error("creating a sample failed: " + describe(r));
  return str(r.json(), "id");
}

json::value make_entry(const std::string& token, json::object body) {
  if (!body.contains("title")) body["title"] = "Oxide thickness, lot 7";
  if (!body.contains("body_markdown")) body["body_markdown"] = "## Goal\n\nMeasure **all** wafers.";
  auto r = lims("POST", "/api/eln", token, js(body));
  if (r.status != 201) throw std::runtime_error("creating an entry failed: " + describe(r));
  return r.json();
}

// Signs what the signer has just read: the content_sha256 that GET /api/eln/{id} answers now.
HttpResponse sign(const std::string& token, const std::string& id, const std::string& pw, const std::string& meaning) {
  auto read = lims("GET", "/api/eln/" + id, token);
  const std::string hash = read.status == 200 ? str(read.json(), "content_sha256") : std::string(64, '0');
  return lims("POST", "/api/eln/" + id + "/sign", token,
              js(json::object{{"password", pw}, {"meaning", meaning}, {"content_sha256", hash}}));
}

std::int64_t entries_of(const std::string& org_id) {
  return count("SELECT count(*) FROM eln_entries WHERE organization_id = $1", db::Params(org_id));
}

// An archive read back: every entry's name and bytes.
std::map<std::string, std::string> unzip(const std::string& bytes) {
  std::map<std::string, std::string> out;
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  zip_t* z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error) : nullptr;
  if (!z) {
    if (src) zip_source_free(src);
    throw std::runtime_error("not a zip archive");
  }
  const auto n = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st);
    std::string data(static_cast<std::size_t>(st.size), '\0');
    if (st.size > 0) {
      zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0);
      zip_fread(f, data.data(), st.size);
      zip_fclose(f);
    }
    out[st.name] = std::move(data);
  }
  zip_close(z);
  return out;
}

}  // namespace

TEST(Eln, EntriesLinkSamplesAndRenderSanitizedHtml) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string s1 = sample_of(eng, "Film A"), s2 = sample_of(eng, "Film B");
  auto entry = make_entry(eng, json::object{{"body_markdown", "| n | t |\n|---|---|\n| 1 | 2.5 |\n\n- [x] cleaned\n\n"
                                                              "[report](https://example.com/r) [bad](javascript:alert(1))\n"
                                                              "<img src=x onerror=alert(1)>"},
                                            {"tags", json::array{"oxide", "lot-7"}},
                                            {"sample_ids", json::array{s1, s2}}});
  const std::string id = str(entry, "id");
  EXPECT_EQ(str(entry, "author_id"), org.user("engineer").id);
  EXPECT_FALSE(entry.at("signed").as_bool());
  EXPECT_EQ(entry.at("sample_ids").as_array().size(), 2u);
  EXPECT_EQ(count("SELECT count(*) FROM eln_entry_samples WHERE organization_id = $1 AND eln_entry_id = $2",
                  db::Params(org.id, id)), 2);
  EXPECT_EQ(db_text("SELECT array_to_string(tags, ',') FROM eln_entries WHERE id = $1", db::Params(id)), "oxide,lot-7");
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'eln.create' AND entity_id = $2",
                  db::Params(org.id, id)), 1);

  auto got = lims("GET", "/api/eln/" + id, login(org.user("viewer")));
  ASSERT_EQ(got.status, 200u);
  const std::string html = str(got.json(), "body_html");
  EXPECT_NE(html.find("<table>"), std::string::npos);
  EXPECT_NE(html.find("type=\"checkbox\""), std::string::npos);
  EXPECT_NE(html.find("href=\"https://example.com/r\""), std::string::npos);
  EXPECT_EQ(html.find("javascript"), std::string::npos);
  EXPECT_EQ(html.find("onerror"), std::string::npos);
  EXPECT_TRUE(html_problems(html).empty());
  EXPECT_EQ(str(got.json(), "body_markdown").find("onerror") != std::string::npos, true);  // the text is kept as written

  // Lists filter by tag, sample and author.
  make_entry(eng, json::object{{"title", "Unrelated"}});
  EXPECT_EQ(ids_of(all_items("/api/eln?tag=oxide", eng)), std::set<std::string>{id});
  EXPECT_EQ(ids_of(all_items("/api/eln?sample_id=" + s2, eng)), std::set<std::string>{id});
  EXPECT_EQ(all_items("/api/eln?author_id=" + org.user("engineer").id, eng).size(), 2u);
}

TEST(Eln, EveryVectorOfTheXssCorpusIsNeutralizedOverHttp) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const auto corpus = xss_corpus();
  ASSERT_GE(corpus.size(), 80u);
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    auto r = lims("POST", "/api/eln/preview", eng, js(json::object{{"body_markdown", corpus[i]}}));
    ASSERT_EQ(r.status, 200u) << i << " " << describe(r);
    const std::string html = str(r.json(), "body_html");
    const auto problems = html_problems(html);
    EXPECT_TRUE(problems.empty()) << "vector " << i << ":\n" << corpus[i] << "\nHTML:\n" << html << "\n" << problems.front();
  }
  // Stored entries render the same way.
  std::string all;
  for (std::size_t i = 0; i < 40; ++i) all += corpus[i] + "\n\n";
  const std::string id = str(make_entry(eng, json::object{{"body_markdown", all}}), "id");
  auto got = lims("GET", "/api/eln/" + id, eng);
  ASSERT_EQ(got.status, 200u);
  EXPECT_TRUE(html_problems(str(got.json(), "body_html")).empty());
}

TEST(Eln, OnlyTheAuthorEditsAndOnlyUntilSigned) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string s1 = sample_of(eng, "S1"), s2 = sample_of(eng, "S2");
  const std::string id = str(make_entry(eng, json::object{{"sample_ids", json::array{s1}}}), "id");

  const auto other_engineer = add_user(org, "engineer", "colleague");
  auto theirs = lims("PATCH", "/api/eln/" + id, login(other_engineer), js(json::object{{"title", "Mine now"}}));
  EXPECT_EQ(theirs.status, 403u) << describe(theirs);
  EXPECT_EQ(lims("PATCH", "/api/eln/" + id, login(org.admin()), js(json::object{{"title", "Admin's"}})).status, 403u);

  auto edited = lims("PATCH", "/api/eln/" + id, eng,
                     js(json::object{{"title", "Lot 7, corrected"}, {"sample_ids", json::array{s2}}, {"tags", json::array{"fixed"}}}));
  ASSERT_EQ(edited.status, 200u) << describe(edited);
  EXPECT_EQ(str(edited.json(), "title"), "Lot 7, corrected");
  EXPECT_EQ(db_text("SELECT sample_id FROM eln_entry_samples WHERE eln_entry_id = $1", db::Params(id)), s2);
  EXPECT_EQ(count("SELECT count(*) FROM eln_entry_samples WHERE eln_entry_id = $1", db::Params(id)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'eln.update' AND entity_id = $1", db::Params(id)), 1);

  ASSERT_EQ(sign(eng, id, password, "author").status, 201u);
  const std::string before = db_text("SELECT title || '|' || body_markdown FROM eln_entries WHERE id = $1", db::Params(id));
  auto locked = lims("PATCH", "/api/eln/" + id, eng, js(json::object{{"body_markdown", "changed after signing"}}));
  EXPECT_EQ(locked.status, 409u) << describe(locked);
  EXPECT_EQ(lims("PATCH", "/api/eln/" + id, eng, js(json::object{{"sample_ids", json::array{s1}}})).status, 409u);
  EXPECT_EQ(db_text("SELECT title || '|' || body_markdown FROM eln_entries WHERE id = $1", db::Params(id)), before);
  EXPECT_EQ(db_text("SELECT sample_id FROM eln_entry_samples WHERE eln_entry_id = $1", db::Params(id)), s2);

  // An amendment is a new entry that names the one it amends.
  auto amendment = make_entry(eng, json::object{{"title", "Correction to lot 7"}, {"amends_entry_id", id}});
  EXPECT_EQ(str(amendment, "amends_entry_id"), id);
  auto original = lims("GET", "/api/eln/" + id, eng).json();
  ASSERT_EQ(original.at("amended_by").as_array().size(), 1u);
  EXPECT_EQ(std::string(original.at("amended_by").at(0).as_string()), str(amendment, "id"));
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'eln.create' AND entity_id = $1",
                  db::Params(str(amendment, "id"))), 1);
}

TEST(Eln, SignaturesNeedThePasswordAndRecordWhoWhenWhyAndWhat) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), tech = login(org.user("technician"));
  const std::string sample = sample_of(eng, "Signed film");
  const std::string id = str(make_entry(eng, json::object{{"sample_ids", json::array{sample}}}), "id");

  auto wrong = sign(eng, id, "not-my-password", "author");
  EXPECT_EQ(wrong.status, 401u) << describe(wrong);
  EXPECT_EQ(count("SELECT count(*) FROM signatures WHERE entry_id = $1", db::Params(id)), 0);
  EXPECT_EQ(db_text("SELECT signed::text FROM eln_entries WHERE id = $1", db::Params(id)), "false");
  // The failure is audited (after the answer, so wait for it).
  std::int64_t failed = 0;
  for (int i = 0; i < 100 && failed == 0; ++i) {
    failed = count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'eln.sign_failed' AND entity_id = $2",
                   db::Params(org.id, id));
    if (failed == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(failed, 1);

  auto signed_ = sign(eng, id, password, "author");
  ASSERT_EQ(signed_.status, 201u) << describe(signed_);
  auto s = signed_.json();
  EXPECT_EQ(str(s, "meaning"), "author");
  EXPECT_EQ(str(s, "signer_id"), org.user("engineer").id);
  EXPECT_EQ(str(s, "signer_name"), str(lims("GET", "/api/auth/me", eng).json(), "full_name"));
  EXPECT_EQ(str(s, "content_sha256").size(), 64u);
  EXPECT_TRUE(s.at("valid").as_bool());
  EXPECT_EQ(db_text("SELECT encode(content_sha256, 'hex') FROM signatures WHERE id = $1", db::Params(str(s, "id"))),
            str(s, "content_sha256"));
  EXPECT_EQ(db_text("SELECT (signed AND locked_at IS NOT NULL)::text FROM eln_entries WHERE id = $1", db::Params(id)), "true");
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'eln.sign' AND entity_id = $1", db::Params(id)), 1);

  // The same person, the same meaning: once. Separation of duties: the author signs only as author,
  // and only the author does; another person reviews and approves.
  auto twice = sign(eng, id, password, "author");
  EXPECT_EQ(twice.status, 409u) << describe(twice);
  auto own_approval = sign(eng, id, password, "approver");
  EXPECT_EQ(own_approval.status, 403u) << describe(own_approval);
  EXPECT_EQ(sign(eng, id, password, "reviewer").status, 403u);
  EXPECT_EQ(sign(tech, id, password, "author").status, 403u);  // the author's meaning is the author's
  EXPECT_EQ(sign(tech, id, password, "reviewer").status, 201u);
  EXPECT_EQ(sign(login(org.user("pi")), id, password, "approver").status, 201u);
  EXPECT_EQ(count("SELECT count(*) FROM signatures WHERE entry_id = $1", db::Params(id)), 3);

  auto list = lims("GET", "/api/eln/" + id + "/signatures", login(org.user("viewer")));
  ASSERT_EQ(list.status, 200u);
  const auto list_body = list.json();
  const auto& items = list_body.at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  for (const auto& i : items) EXPECT_TRUE(i.at("valid").as_bool()) << json::serialize(i);
  EXPECT_EQ(str(items.at(0), "meaning"), "approver");  // newest first
}

TEST(Eln, ADirectEditOfTheDatabaseInvalidatesTheSignatures) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string sample = sample_of(eng, "Evidence");
  const std::string id = str(make_entry(eng, json::object{{"sample_ids", json::array{sample}}}), "id");
  ASSERT_EQ(sign(eng, id, password, "author").status, 201u);
  // Someone with the database's keys rewrites the signed text behind the application's back (the lock
  // trigger is the application's backstop, so they switch it off first).
  owner().exec("BEGIN");
  owner().exec("ALTER TABLE eln_entries DISABLE TRIGGER eln_entry_lock_guard");
  owner().exec("UPDATE eln_entries SET body_markdown = body_markdown || ' (and a quiet change)' WHERE id = $1", db::Params(id));
  owner().exec("ALTER TABLE eln_entries ENABLE TRIGGER eln_entry_lock_guard");
  owner().exec("COMMIT");
  auto list = lims("GET", "/api/eln/" + id + "/signatures", eng);
  ASSERT_EQ(list.status, 200u);
  const auto list_body = list.json();
  const auto& items = list_body.at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_FALSE(items.at(0).at("valid").as_bool());

  // Unlinking a sample behind its back is noticed too (a second entry, to keep the two edits apart).
  const std::string other = str(make_entry(eng, json::object{{"sample_ids", json::array{sample}}}), "id");
  ASSERT_EQ(sign(eng, other, password, "author").status, 201u);
  owner().exec("BEGIN");
  owner().exec("ALTER TABLE eln_entry_samples DISABLE TRIGGER eln_entry_samples_lock_guard");
  owner().exec("DELETE FROM eln_entry_samples WHERE eln_entry_id = $1", db::Params(other));
  owner().exec("ALTER TABLE eln_entry_samples ENABLE TRIGGER eln_entry_samples_lock_guard");
  owner().exec("COMMIT");
  auto other_list = lims("GET", "/api/eln/" + other + "/signatures", eng);
  ASSERT_EQ(other_list.status, 200u);
  EXPECT_FALSE(other_list.json().at("items").at(0).at("valid").as_bool());
}

TEST(Eln, WrongPasswordsAreThrottledLikeLogins) {
  auto org = make_org();
  const auto signer = add_user(org, "engineer", "guesser");
  const std::string token = login(signer);
  const std::string id = str(make_entry(token, json::object{}), "id");
  unsigned last = 0;
  HttpResponse locked;
  for (int i = 0; i < 8 && last != 429u; ++i) {
    locked = sign(token, id, "guess-" + std::to_string(i), "author");
    last = locked.status;
  }
  EXPECT_EQ(last, 429u) << describe(locked);
  EXPECT_FALSE(locked.header("retry-after").empty());
  // Locked out: even the right password waits, and nothing is signed.
  EXPECT_EQ(sign(token, id, signer.password, "author").status, 429u);
  EXPECT_EQ(count("SELECT count(*) FROM signatures WHERE entry_id = $1", db::Params(id)), 0);
}

TEST(Eln, ExportIsAnElnFileWhoseMetadataNamesExactlyItsFiles) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), tech = login(org.user("technician"));
  const std::string sample = sample_of(eng, "Exported film");
  const std::string id = str(make_entry(eng, json::object{{"title", "Lot 9"},
                                                          {"tags", json::array{"export"}},
                                                          {"sample_ids", json::array{sample}}}),
                             "id");
  ASSERT_EQ(sign(eng, id, password, "author").status, 201u);
  ASSERT_EQ(sign(tech, id, password, "reviewer").status, 201u);

  auto r = lims("GET", "/api/eln/" + id + "/export", login(org.user("viewer")));
  ASSERT_EQ(r.status, 200u) << describe(r);
  EXPECT_EQ(r.header("content-type"), "application/vnd.eln+zip");
  EXPECT_NE(r.header("content-disposition").find(".eln"), std::string::npos);
  const auto files = unzip(r.body);

  // One root folder holds everything.
  std::set<std::string> roots;
  for (const auto& [name, _] : files) roots.insert(name.substr(0, name.find('/') + 1));
  ASSERT_EQ(roots.size(), 1u);
  const std::string root = *roots.begin();
  ASSERT_TRUE(files.contains(root + "ro-crate-metadata.json"));

  const auto crate = json::parse(files.at(root + "ro-crate-metadata.json"));
  EXPECT_EQ(str(crate, "@context"), "https://w3id.org/ro/crate/1.1/context");
  std::map<std::string, json::object> graph;
  for (const auto& node : crate.at("@graph").as_array()) graph[str(node, "@id")] = node.as_object();
  ASSERT_TRUE(graph.contains("ro-crate-metadata.json"));
  EXPECT_EQ(std::string(graph["ro-crate-metadata.json"].at("conformsTo").at("@id").as_string()), "https://w3id.org/ro/crate/1.1");
  EXPECT_EQ(std::string(graph["ro-crate-metadata.json"].at("about").at("@id").as_string()), "./");
  ASSERT_TRUE(graph.contains("./"));
  EXPECT_EQ(std::string(graph["./"].at("@type").as_string()), "Dataset");
  const std::string folder = std::string(graph["./"].at("hasPart").at(0).at("@id").as_string());
  ASSERT_TRUE(graph.contains(folder));
  auto& dataset = graph[folder];
  EXPECT_EQ(std::string(dataset.at("@type").as_string()), "Dataset");
  EXPECT_EQ(std::string(dataset.at("name").as_string()), "Lot 9");
  const std::string author = std::string(dataset.at("author").at("@id").as_string());
  ASSERT_TRUE(graph.contains(author));
  EXPECT_EQ(std::string(graph[author].at("@type").as_string()), "Person");
  EXPECT_EQ(std::string(graph[author].at("name").as_string()), str(lims("GET", "/api/auth/me", eng).json(), "full_name"));

  // The archive holds exactly the files the metadata names, with the sizes and hashes it names.
  std::set<std::string> named, archived;
  for (auto& [node_id, node] : graph)
    if (node.at("@type").is_string() && node.at("@type").as_string() == "File") {
      ASSERT_EQ(node_id.rfind("./", 0), 0u) << node_id;
      const std::string path = root + node_id.substr(2);
      named.insert(path);
      ASSERT_TRUE(files.contains(path)) << path;
      EXPECT_EQ(std::string(node.at("contentSize").as_string()), std::to_string(files.at(path).size())) << path;
    }
  for (const auto& [name, _] : files)
    if (name.back() != '/' && name != root + "ro-crate-metadata.json") archived.insert(name);
  EXPECT_EQ(named, archived);

  std::string markdown, signatures;
  for (const auto& [name, bytes] : files) {
    if (name.ends_with("entry.md")) markdown = bytes;
    if (name.ends_with("signatures.json")) signatures = bytes;
  }
  EXPECT_EQ(markdown, db_text("SELECT body_markdown FROM eln_entries WHERE id = $1", db::Params(id)));
  const auto sigs = json::parse(signatures).as_array();
  ASSERT_EQ(sigs.size(), 2u);
  for (const auto& s : sigs) EXPECT_TRUE(s.at("valid").as_bool());
}

TEST(Eln, RolesAndApiKeys) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string id = str(make_entry(eng, json::object{}), "id");
  for (const std::string role : {"viewer", "technician"}) {
    const std::string t = login(org.user(role));
    EXPECT_EQ(lims("GET", "/api/eln", t).status, 200u) << role;
    EXPECT_EQ(lims("GET", "/api/eln/" + id, t).status, 200u) << role;
    EXPECT_EQ(lims("GET", "/api/eln/" + id + "/signatures", t).status, 200u) << role;
    EXPECT_EQ(lims("GET", "/api/eln/" + id + "/export", t).status, 200u) << role;
    EXPECT_EQ(lims("POST", "/api/eln", t, js(json::object{{"title", "t"}, {"body_markdown", "b"}})).status, 403u) << role;
    EXPECT_EQ(lims("PATCH", "/api/eln/" + id, t, js(json::object{{"title", "t"}})).status, 403u) << role;
    EXPECT_EQ(lims("POST", "/api/eln/preview", t, js(json::object{{"body_markdown", "# x"}})).status, 403u) << role;
  }
  // A viewer cannot sign; a technician can (as reviewer).
  EXPECT_EQ(sign(login(org.user("viewer")), id, password, "reviewer").status, 403u);
  EXPECT_EQ(sign(login(org.user("technician")), id, password, "reviewer").status, 201u);
  // An API key never signs, whatever its scopes and role.
  const std::string key = api_key(org, {"eln:write"}, "pi");
  auto by_key = sign(key, id, password, "approver");
  EXPECT_EQ(by_key.status, 403u) << describe(by_key);
  EXPECT_EQ(lims("POST", "/api/eln", key, js(json::object{{"title", "From a key"}, {"body_markdown", "b"}})).status, 201u);
  EXPECT_EQ(lims("POST", "/api/eln", api_key(org, {"eln:read"}, "engineer"), js(json::object{{"title", "t"}, {"body_markdown", "b"}})).status,
            403u);
  EXPECT_EQ(count("SELECT count(*) FROM signatures WHERE entry_id = $1", db::Params(id)), 1);
}

TEST(Eln, BadInputNamesTheFieldAndWritesNothing) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string theirs = sample_of(login(other.user("engineer")), "Their sample");
  const std::string ours = sample_of(eng, "Our sample");
  const std::string big(1048577, 'x');
  struct Case {
    std::string body, field;
  };
  const std::vector<Case> cases = {
      {js(json::object{{"body_markdown", "b"}}), "title"},
      {js(json::object{{"title", "t"}}), "body_markdown"},
      {js(json::object{{"title", "t"}, {"body_markdown", "b"}, {"colour", "red"}}), "colour"},
      {js(json::object{{"title", "t"}, {"body_markdown", big}}), "body_markdown"},
      {js(json::object{{"title", "t"}, {"body_markdown", "b"}, {"tags", json::array{"ok", 7}}}), "tags"},
      {js(json::object{{"title", "t"}, {"body_markdown", "b"}, {"tags", "oxide"}}), "tags"},
      {js(json::object{{"title", "t"}, {"body_markdown", "b"}, {"sample_ids", json::array{ours, theirs}}}), "sample_ids[1]"},
      {js(json::object{{"title", "t"}, {"body_markdown", "b"}, {"sample_ids", json::array{"nope"}}}), "sample_ids[0]"},
      {js(json::object{{"title", "t"}, {"body_markdown", "b"}, {"sample_ids", json::array{ours, ours}}}), "sample_ids[1]"},
      {js(json::object{{"title", "t"}, {"body_markdown", "b"}, {"amends_entry_id", "00000000-0000-4000-8000-000000000000"}}),
       "amends_entry_id"},
  };
  for (const auto& c : cases) {
    auto r = lims("POST", "/api/eln", eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.field << " " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << c.field << " " << describe(r);
  }
  EXPECT_EQ(entries_of(org.id), 0);
  EXPECT_EQ(count("SELECT count(*) FROM eln_entry_samples WHERE organization_id = $1", db::Params(org.id)), 0);

  const std::string id = str(make_entry(eng, json::object{}), "id");
  auto meaning = sign(eng, id, password, "witness");
  EXPECT_EQ(meaning.status, 422u);
  EXPECT_TRUE(names(meaning, "meaning"));
  auto missing = lims("POST", "/api/eln/" + id + "/sign", eng, js(json::object{{"meaning", "author"}}));
  EXPECT_EQ(missing.status, 422u);
  EXPECT_TRUE(names(missing, "password"));
  auto extra = lims("POST", "/api/eln/" + id + "/sign", eng,
                    js(json::object{{"password", password}, {"meaning", "author"}, {"signed_at", "2020-01-01T00:00:00Z"}}));
  EXPECT_EQ(extra.status, 422u);
  EXPECT_TRUE(names(extra, "signed_at"));
  auto patch_foreign = lims("PATCH", "/api/eln/" + id, eng, js(json::object{{"sample_ids", json::array{theirs}}}));
  EXPECT_EQ(patch_foreign.status, 422u);
  EXPECT_TRUE(names(patch_foreign, "sample_ids[0]"));
  EXPECT_EQ(count("SELECT count(*) FROM signatures WHERE entry_id = $1", db::Params(id)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM eln_entry_samples WHERE eln_entry_id = $1", db::Params(id)), 0);
}

TEST(Eln, AnotherOrganizationsEntryIs404AndNothingChanges) {
  auto a = make_org();
  auto b = make_org();
  const std::string id = str(make_entry(login(a.user("engineer")), json::object{{"title", "Ours"}}), "id");
  const std::string them = login(b.user("engineer"));
  EXPECT_EQ(lims("GET", "/api/eln/" + id, them).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/eln/" + id, them, js(json::object{{"title", "Theirs"}})).status, 404u);
  EXPECT_EQ(sign(them, id, password, "reviewer").status, 404u);
  EXPECT_EQ(lims("GET", "/api/eln/" + id + "/signatures", them).status, 404u);
  EXPECT_EQ(lims("GET", "/api/eln/" + id + "/export", them).status, 404u);
  auto amend = lims("POST", "/api/eln", them, js(json::object{{"title", "t"}, {"body_markdown", "b"}, {"amends_entry_id", id}}));
  EXPECT_EQ(amend.status, 422u);
  EXPECT_TRUE(names(amend, "amends_entry_id"));
  EXPECT_TRUE(all_items("/api/eln", them).empty());
  EXPECT_EQ(db_text("SELECT title FROM eln_entries WHERE id = $1", db::Params(id)), "Ours");
  EXPECT_EQ(count("SELECT count(*) FROM signatures WHERE entry_id = $1", db::Params(id)), 0);
  EXPECT_EQ(entries_of(b.id), 0);
}
