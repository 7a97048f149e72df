#include "lims/notebook/eln_file.hpp"

#include <zip.h>

#include <boost/json.hpp>
#include <memory>
#include <set>
#include <stdexcept>

#include "platform/crypto.hpp"
#include "platform/json_text.hpp"

namespace json = boost::json;

namespace spectra::notebook {
namespace {

// A file of the entry's folder: its name in the folder, its bytes and type, and what it is.
struct Part {
  std::string name, bytes, type, description;
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

std::vector<Part> parts_of(const ElnEntry& e) {
  std::vector<Part> parts;
  parts.push_back({"entry.md", e.body_markdown, "text/markdown", "The entry as written (markdown)"});
  parts.push_back({"entry.html", e.body_html, "text/html", "The entry rendered to sanitized HTML"});
  parts.push_back({"signatures.json", signatures_json(e), "application/json",
                   "Electronic signatures: signer, meaning, time, and the SHA-256 of the signed content"});
  for (const auto& a : e.attachments)
    parts.push_back({a.id.substr(0, 8) + "-" + safe_name(a.filename), a.bytes, a.content_type, "Attachment " + a.filename});
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
  const auto parts = parts_of(e);
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
                                 {"contentSize", std::to_string(p.bytes.size())},
                                 {"sha256", crypto::to_hex(crypto::sha256(p.bytes))}});
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

std::string build_eln(const ElnEntry& e, const std::string& now, const std::string& version) {
  const std::string root = eln_name(e) + "/";
  const std::string folder = root + "entry-" + e.id + "/";
  const auto parts = parts_of(e);
  const std::string metadata = ro_crate_metadata(e, now, version);

  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (!buffer) throw std::runtime_error("zip: cannot create a buffer");
  zip_source_keep(buffer);
  std::unique_ptr<zip_source_t, decltype(&zip_source_free)> keep(buffer, &zip_source_free);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (!archive) throw std::runtime_error(std::string("zip: ") + zip_error_strerror(&error));
  auto fail = [&](const char* what) {
    std::string why = std::string("zip: ") + what + ": " + zip_strerror(archive);
    zip_discard(archive);
    throw std::runtime_error(why);
  };
  auto add = [&](const std::string& name, const std::string& bytes) {
    zip_source_t* s = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    if (!s) fail("cannot add a file");
    if (zip_file_add(archive, name.c_str(), s, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) < 0) {
      zip_source_free(s);
      fail("cannot add a file");
    }
  };
  if (zip_dir_add(archive, root.c_str(), ZIP_FL_ENC_UTF_8) < 0) fail("cannot add the root folder");
  add(root + "ro-crate-metadata.json", metadata);
  if (zip_dir_add(archive, folder.c_str(), ZIP_FL_ENC_UTF_8) < 0) fail("cannot add the entry folder");
  for (const auto& p : parts) add(folder + p.name, p.bytes);
  if (zip_close(archive) < 0) fail("cannot write the archive");

  if (zip_source_open(buffer) < 0) throw std::runtime_error("zip: cannot read the archive back");
  zip_source_seek(buffer, 0, SEEK_END);
  const auto size = zip_source_tell(buffer);
  zip_source_seek(buffer, 0, SEEK_SET);
  std::string out(static_cast<std::size_t>(size), '\0');
  const auto got = zip_source_read(buffer, out.data(), static_cast<zip_uint64_t>(size));
  zip_source_close(buffer);
  if (got != size) throw std::runtime_error("zip: short read of the archive");
  return out;
}

}  // namespace spectra::notebook
