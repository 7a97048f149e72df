#include "kit/docs.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <vector>

namespace json = boost::json;

namespace spectra::kit {
namespace {

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A schema in words: its type (a list's item type, a referenced schema's name), its enum, its bounds.
std::string type_of(const json::value& schema) {
  if (!schema.is_object()) return "";
  const auto& s = schema.as_object();
  if (auto ref = text(s, "$ref"); !ref.empty()) return ref.substr(ref.rfind('/') + 1);
  std::string out;
  if (const auto* t = s.if_contains("type")) {
    if (t->is_string()) out = std::string(t->as_string());
    else if (t->is_array())
      for (const auto& x : t->as_array()) out += (out.empty() ? "" : " | ") + std::string(x.is_string() ? x.as_string() : "");
  }
  if (const auto* items = s.if_contains("items")) out += " of " + type_of(*items);
  if (auto f = text(s, "format"); !f.empty()) out += " (" + f + ")";
  if (const auto* e = s.if_contains("enum"); e && e->is_array()) {
    std::string values;
    for (const auto& x : e->as_array()) values += (values.empty() ? "" : ", ") + (x.is_string() ? std::string(x.as_string()) : json::serialize(x));
    out += ": " + values;
  }
  return out;
}

// The fields of an object schema (resolving a reference into components.schemas).
std::string fields_table(const json::value& schema, const json::object& components) {
  const json::object* s = schema.is_object() ? &schema.as_object() : nullptr;
  if (s && s->contains("$ref")) {
    const auto ref = text(*s, "$ref");
    const auto* schemas = components.if_contains("schemas");
    const auto* target = schemas && schemas->is_object() ? schemas->as_object().if_contains(ref.substr(ref.rfind('/') + 1)) : nullptr;
    s = target && target->is_object() ? &target->as_object() : nullptr;
  }
  if (!s || !s->contains("properties")) return "<p>" + escape(type_of(schema)) + "</p>";
  std::vector<std::string> required;
  if (const auto* r = s->if_contains("required"); r && r->is_array())
    for (const auto& x : r->as_array()) required.emplace_back(x.is_string() ? x.as_string() : "");
  std::string out = "<table><thead><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr></thead><tbody>";
  for (const auto& [name, prop] : s->at("properties").as_object()) {
    const bool needed = std::find(required.begin(), required.end(), std::string(name)) != required.end();
    out += "<tr><td><code>" + escape(name) + "</code></td><td>" + escape(type_of(prop)) + "</td><td>" + (needed ? "yes" : "") +
           "</td><td>" + escape(prop.is_object() ? text(prop.as_object(), "description") : "") + "</td></tr>";
  }
  return out + "</tbody></table>";
}

}  // namespace

std::string openapi_html(std::string_view openapi_json) {
  const auto doc = json::parse(openapi_json).as_object();
  const auto& info = doc.at("info").as_object();
  const json::object empty;
  const auto* comps = doc.if_contains("components");
  const json::object& components = comps && comps->is_object() ? comps->as_object() : empty;
  const std::string title = text(info, "title") + " " + text(info, "version");
  std::string toc, body;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op_value] : item.as_object()) {
      if (!op_value.is_object()) continue;
      const auto& op = op_value.as_object();
      std::string verb(method);
      for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const std::string anchor = verb + "-" + std::string(path);
      std::string id;
      for (char c : anchor) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
      toc += "<li><a href=\"#" + id + "\"><code>" + verb + " " + escape(path) + "</code></a> " + escape(text(op, "summary")) + "</li>";
      body += "<section id=\"" + id + "\"><h2><code>" + verb + " " + escape(path) + "</code></h2><p>" +
              escape(text(op, "summary")) + "</p>";
      if (auto d = text(op, "description"); !d.empty() && d != text(op, "summary")) body += "<p>" + escape(d) + "</p>";
      if (const auto* params = op.if_contains("parameters"); params && params->is_array() && !params->as_array().empty()) {
        body += "<h3>Parameters</h3><table><thead><tr><th>name</th><th>in</th><th>type</th><th>required</th><th>description</th>"
                "</tr></thead><tbody>";
        for (const auto& p : params->as_array()) {
          const auto& po = p.as_object();
          const auto* schema = po.if_contains("schema");
          body += "<tr><td><code>" + escape(text(po, "name")) + "</code></td><td>" + escape(text(po, "in")) + "</td><td>" +
                  escape(schema ? type_of(*schema) : "") + "</td><td>" +
                  (po.contains("required") && po.at("required").is_bool() && po.at("required").as_bool() ? "yes" : "") +
                  "</td><td>" + escape(text(po, "description")) + "</td></tr>";
        }
        body += "</tbody></table>";
      }
      if (const auto* rb = op.if_contains("requestBody"); rb && rb->is_object()) {
        body += "<h3>Body</h3>";
        if (const auto* content = rb->as_object().if_contains("content"); content && content->is_object())
          for (const auto& [type, media] : content->as_object()) {
            body += "<p><code>" + escape(type) + "</code></p>";
            if (const auto* schema = media.as_object().if_contains("schema")) body += fields_table(*schema, components);
          }
      }
      if (const auto* responses = op.if_contains("responses"); responses && responses->is_object()) {
        body += "<h3>Answers</h3><ul>";
        for (const auto& [status, r] : responses->as_object())
          body += "<li><code>" + escape(status) + "</code> " + escape(r.is_object() ? text(r.as_object(), "description") : "") + "</li>";
        body += "</ul>";
      }
      body += "</section>";
    }
  }
  return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,"
         " initial-scale=1\"><title>" + escape(title) + "</title></head><body><header><h1>" + escape(title) + "</h1><p>" +
         escape(text(info, "description")) + "</p><p>The same document for programs: <a href=\"/openapi.json\">/openapi.json</a>."
         "</p></header><nav><h2>Operations</h2><ul>" + toc + "</ul></nav><main>" + body + "</main></body></html>";
}

}  // namespace spectra::kit
