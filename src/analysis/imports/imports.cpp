// Importing an instrument's file into a run: the form's `file` and `profile_id`; the file's SHA-256
// first (off the I/O threads), and the same bytes already imported into the run answer 200 with that
// import, adding nothing (a unique index backs it when two arrive together). Otherwise the file is read
// strictly through the profile (422 naming each line and column; nothing written), stored as an
// attachment (type, scan, content store), and its results are recorded in one transaction with the
// attachment, the import and their audit events (runs/recording.hpp: judged, held, fed into SPC).
#include <boost/json.hpp>

#include "analysis/attachments/rules.hpp"
#include "analysis/attachments/store.hpp"
#include "analysis/imports/handlers.hpp"
#include "analysis/imports/reading.hpp"
#include "analysis/imports/shapes.hpp"
#include "analysis/runs/recording.hpp"
#include "kit/data.hpp"
#include "platform/blocking.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/http/multipart.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::imports {
namespace {

const std::string import_json = import_shape.sql("i");

const kit::List imports_list{{
    .name = "run_imports_list",
    .select = import_json,
    .from = "run_imports i",
    .alias = "i",
    .where = "i.run_id = $2",
    .sorts = {{"filename", "i.filename", "text"}},
    .always_given = 1,
}};
const db::Query run_exists_q{"run_imports_run_exists", "SELECT 1 FROM runs WHERE organization_id = $1 AND id = $2"};
const db::Query get_q{"run_imports_get",
                      "SELECT " + import_json + " FROM run_imports i WHERE i.organization_id = $1 AND i.id = $2"};
// What an import decides before it reads the file: the run ($2), the profile ($3) and an import of
// the same bytes ($4, their SHA-256) into the run.
const db::Query facts_q{
    "run_imports_facts",
    "SELECT r.instrument_id AS run_instrument_id, p.instrument_id AS profile_instrument_id, p.format, p.skip_lines,"
    "       p.columns::text AS columns, p.metric, p.unit, p.unit_scale,"
    "       coalesce(p.decimal_comma, false) AS decimal_comma,"
    "       (SELECT i.id FROM run_imports i WHERE i.organization_id = $1 AND i.run_id = $2"
    "           AND i.sha256 = $4::bytea) AS first_import_id"
    " FROM (SELECT 1) one"
    " LEFT JOIN runs r ON r.organization_id = $1 AND r.id = $2"
    " LEFT JOIN import_profiles p ON p.organization_id = $1 AND p.id = $3"};
struct Facts {
  std::optional<std::string> run_instrument_id, profile_instrument_id, format;
  std::optional<std::int64_t> skip_lines;
  std::optional<std::string> columns, metric, unit;
  std::optional<double> unit_scale;
  bool decimal_comma = false;
  std::optional<std::string> first_import_id;
};
const db::Decoder<Facts> facts{
    facts_q,
    {{"run_instrument_id", &Facts::run_instrument_id}, {"profile_instrument_id", &Facts::profile_instrument_id},
     {"format", &Facts::format}, {"skip_lines", &Facts::skip_lines}, {"columns", &Facts::columns},
     {"metric", &Facts::metric}, {"unit", &Facts::unit}, {"unit_scale", &Facts::unit_scale},
     {"decimal_comma", &Facts::decimal_comma}, {"first_import_id", &Facts::first_import_id}}};
const db::Query insert_q{
    "run_imports_insert",
    "WITH i AS (INSERT INTO run_imports (organization_id, id, run_id, profile_id, attachment_id, sha256, filename,"
    "                                    size_bytes, results, evaluations, imported_by)"
    "           VALUES ($1, $2, $3, $4, $5, $6::bytea, $7, $8::bigint, $9::int, $10::jsonb, $11) RETURNING *)"
    " SELECT " + import_json + " FROM i"};
const db::Constraint file_imported{"run_imports_file_key", "file", "This file was imported into the run already"};

// The form: the file (with its name) and the profile's id.
struct Form {
  std::string_view bytes;
  std::string filename, profile_id;
};
Form form_of(const kit::Upload& upload) {
  const auto boundary = http::multipart_boundary(upload.content_type);
  if (!boundary)
    throw ApiError(ErrorCode::unsupported_media, "The body must be multipart/form-data with a file and a profile_id");
  auto parts = http::parse_multipart(upload.bytes, *boundary);
  if (!parts) throw ApiError(ErrorCode::bad_request, "The multipart body is malformed");
  Form f;
  bool has_file = false;
  std::optional<std::string> profile;
  for (const auto& part : *parts) {
    if (part.name == "file" && part.filename && !has_file) {
      has_file = true;
      f.bytes = part.data;
      f.filename = *part.filename;
    }
    if (part.name == "profile_id" && !part.filename && !profile) profile = std::string(part.data);
  }
  ApiError bad = unprocessable("The import cannot be accepted");
  bool refused = false;
  if (!has_file) refused = (bad.with_field("file", "is required (a part named file, with a filename)"), true);
  else if (f.bytes.empty()) refused = (bad.with_field("file", "is empty"), true);
  if (!profile) refused = (bad.with_field("profile_id", "is required"), true);
  else if (!crypto::is_uuid(*profile)) refused = (bad.with_field("profile_id", "must be a UUID"), true);
  if (refused) throw std::move(bad);
  f.profile_id = *profile;
  return f;
}

// The request's name of a result's member: the file's line and the header name of its column.
std::string line_field(std::size_t line, std::string_view column) {
  return "lines[" + std::to_string(line) + "]" + (column.empty() ? "" : "." + std::string(column));
}

[[noreturn]] void refuse(const std::vector<LineProblem>& problems) {
  ApiError bad = unprocessable("The file was not imported: nothing was recorded");
  for (const auto& p : problems)
    bad.with_field(p.line ? line_field(p.line, p.column) : "file",
                   (p.line ? "line " + std::to_string(p.line) + (p.column.empty() ? "" : ", column " + p.column) + ": "
                           : std::string()) +
                       p.message);
  throw std::move(bad);
}

}  // namespace

Reply list_imports(RequestContext& ctx, Path<kit::Id> p, PageRequest page) {
  auto exists = co_await db::read(ctx.db(), ctx.tenant(), run_exists_q, db::Params(p.id));
  if (exists.empty()) throw not_found("No such run");
  co_return co_await imports_list.page(ctx, db::Params(p.id), std::move(page));
}

Reply import_file(RequestContext& ctx, Path<kit::Id> p, kit::Upload upload) {
  const Form form = form_of(upload);
  auto bytes = std::make_shared<const std::string>(form.bytes);
  const WorkShare share = ctx.share();
  auto hash = [bytes] { return crypto::to_hex(crypto::sha256(*bytes)); };
  const std::string sha = co_await ctx.deps.blocking->run(std::move(hash), share);

  const std::string digest = crypto::from_hex(sha).value_or(std::string());
  auto found = co_await db::read(ctx.db(), ctx.tenant(), facts_q, db::Params(p.id, form.profile_id).add_bytea(digest));
  const Facts f = facts(found);
  if (!f.run_instrument_id) throw not_found("No such run");
  if (f.first_import_id) co_return co_await kit::one(ctx, get_q, db::Params(*f.first_import_id), "No such import");
  if (!f.profile_instrument_id) throw not_found("No such import profile");
  if (*f.profile_instrument_id != *f.run_instrument_id)
    throw std::move(unprocessable("The profile reads another instrument's files")
                        .with_field("profile_id", "is the profile of another instrument than the run's"));
  const Profile profile{*f.format,     static_cast<int>(*f.skip_lines), stored_columns(*f.columns), f.metric, f.unit,
                        *f.unit_scale, f.decimal_comma};

  // Read off the I/O threads: up to 100,000 rows.
  auto read = [bytes, profile] { return read_file(*bytes, profile, runs::max_imported_results); };
  Reading reading = co_await ctx.deps.blocking->run(std::move(read), share);
  if (!reading.problems.empty()) refuse(reading.problems);

  const std::string type = profile.format == "tsv" ? "text/tab-separated-values" : "text/csv";
  const attachments::StoredFile stored =
      co_await attachments::check_and_store(ctx, bytes, type, attachments::sanitize_filename(form.filename));

  std::vector<runs::NewResult> results;
  results.reserve(reading.results.size());
  for (auto& r : reading.results)
    results.push_back({std::move(r.metric), r.value, std::move(r.unit), "{}", "{\"line\":" + std::to_string(r.line) + "}",
                       r.x_mm, r.y_mm, r.die_x, r.die_y, std::move(r.site)});
  const std::string import_id = crypto::uuid_v4(), attachment_id = crypto::uuid_v4();
  runs::Recording how;
  how.import_id = import_id;
  how.field = [&reading, &profile](std::size_t i, std::string_view member) {
    const Columns& c = profile.columns;
    const std::optional<std::string>& column = member == "x_mm" ? c.x_mm : member == "unit" ? c.unit : c.value;
    return line_field(reading.results[i].line, column.value_or(std::string(member)));
  };
  try {
    auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
      runs::Recorded done = co_await runs::record(ctx, w, p.id, results, how);
      std::vector<db::Statement> st = attachments::attachment_rows(attachment_id, stored, ctx.principal.user_id, {p.id, {}, {}});
      db::Params row(import_id, p.id, form.profile_id, attachment_id);
      row.add_bytea(digest).add(stored.filename).add(stored.size_bytes).add(static_cast<std::int64_t>(results.size()));
      row.add(json_text(done.evaluations)).add(ctx.principal.user_id);
      st.push_back({&insert_q, std::move(row)});
      const std::size_t import_at = st.size() - 1;
      for (auto& s : done.statements) st.push_back(std::move(s));
      const json::object attachment{{"id", attachment_id},         {"filename", stored.filename},
                                    {"content_type", stored.content_type}, {"size_bytes", stored.size_bytes},
                                    {"sha256", stored.sha256_hex},  {"run_id", p.id}};
      w.audit("attachment.create", "attachment", attachment_id, std::nullopt, json_text(attachment));
      json::object summary = std::move(done.summary);
      summary["import_id"] = import_id;
      summary["attachment_id"] = attachment_id;
      summary["profile_id"] = form.profile_id;
      summary["filename"] = stored.filename;
      summary["sha256"] = stored.sha256_hex;
      w.audit("result.import", "run", p.id, std::nullopt, json_text(summary));
      auto committed = co_await w.commit(std::move(st));
      std::string json = db::row_json(committed[import_at]);
      co_return json;
    });
    co_return http::Response::json(201, std::move(row));
  } catch (const db::SqlError& e) {
    if (!e.violates(file_imported)) throw;
  }
  // The same bytes were imported into the run while this one was read: that import is the answer.
  found = co_await db::read(ctx.db(), ctx.tenant(), facts_q, db::Params(p.id, form.profile_id).add_bytea(digest));
  const Facts again = facts(found);
  if (!again.first_import_id) throw conflict("The file was imported at the same time; try again");
  co_return co_await kit::one(ctx, get_q, db::Params(*again.first_import_id), "No such import");
}

}  // namespace spectra::imports
