// Certificates of analysis: a PI or an admin, signing with their password, issues a PDF of a sample's
// results against their specifications, with the instrument and the calibration certificate valid when
// each was measured, and a QR code of the certificate's verify link. The PDF is stored as issued with
// its SHA-256 (audited); anyone holding a PDF checks it against its link without signing in, and learns
// nothing but whether it is the one issued, when, by whom and for which barcode. No certificate is
// issued while the sample has an open nonconformance (409).
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "kit/reauth.hpp"
#include "lims/quality/certificate_pdf.hpp"
#include "lims/quality/handlers.hpp"
#include "lims/quality/rules.hpp"
#include "lims/quality/shapes.hpp"
#include "platform/blocking.hpp"
#include "platform/crypto.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::quality {
namespace {

constexpr int max_lines = 2000;  // a certificate is read by people: about 60 pages

const std::string certificate_json = certificate_shape.sql("c");
const db::Query get_q{"certificates_get",
                      "SELECT " + certificate_json + " FROM certificates c WHERE c.organization_id = $1 AND c.id = $2"};
const db::Query pdf_q{"certificates_pdf",
                      "SELECT encode(c.pdf, 'hex') AS pdf, s.barcode, s.name FROM certificates c"
                      " JOIN samples s ON s.organization_id = $1 AND s.id = c.sample_id"
                      " WHERE c.organization_id = $1 AND c.id = $2"};
// What the certificate says about the sample and its organization.
const db::Query header_q{
    "certificates_header",
    "SELECT o.name AS organization, s.name, coalesce(s.barcode, '') AS barcode, s.sample_type, m.name AS material,"
    "       w.diameter_mm, w.orientation, w.doping_type, w.dopant, w.resistivity_ohm_cm, w.thickness_um"
    " FROM samples s JOIN organizations o ON o.id = $1"
    " LEFT JOIN materials m ON m.organization_id = $1 AND m.id = s.material_id"
    " LEFT JOIN wafers w ON w.organization_id = $1 AND w.sample_id = s.id AND NOT w.is_deleted"
    " WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted"};
struct Header {
  std::string organization, name, barcode, sample_type;
  std::optional<std::string> material;
  std::optional<std::int64_t> diameter_mm;
  std::optional<std::string> orientation, doping_type, dopant;
  std::optional<double> resistivity_ohm_cm, thickness_um;
};
const db::Decoder<Header> header_of{
    header_q,
    {{"organization", &Header::organization}, {"name", &Header::name}, {"barcode", &Header::barcode},
     {"sample_type", &Header::sample_type}, {"material", &Header::material}, {"diameter_mm", &Header::diameter_mm},
     {"orientation", &Header::orientation}, {"doping_type", &Header::doping_type}, {"dopant", &Header::dopant},
     {"resistivity_ohm_cm", &Header::resistivity_ohm_cm}, {"thickness_um", &Header::thickness_um}}};
// The given runs ($3) that are measurement runs of the sample ($2).
const db::Query runs_of_sample_q{
    "certificates_runs_of_sample",
    "SELECT r.id FROM runs r WHERE r.organization_id = $1 AND r.sample_id = $2 AND r.id = ANY($3::uuid[])"
    " AND r.kind = 'measurement'"};
struct RunId {
  std::string id;
};
const db::Decoder<RunId> run_id_of{runs_of_sample_q, {{"id", &RunId::id}}};
// Each result of the sample's measurement runs ($3: these runs only, when given), with its limits, the
// instrument, the calibration valid when it was measured and the specification version; oldest first.
const db::Query lines_q{
    "certificates_lines",
    "SELECT x.run_id, to_jsonb(x.recorded_at) #>> '{}' AS measured_at, x.metric, x.value, x.unit, x.evaluation,"
    "       i.name AS instrument,"
    "       (SELECT c.certificate_number || ', valid until ' || to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    "          FROM calibrations c WHERE c.organization_id = $1 AND c.instrument_id = r.instrument_id"
    "           AND c.status <> 'PENDING' AND c.calibrated_at <= x.recorded_at AND c.expires_at > x.recorded_at"
    "           AND (c.revoked_at IS NULL OR c.revoked_at > x.recorded_at)"
    "         ORDER BY c.calibrated_at DESC LIMIT 1) AS calibration,"
    "       CASE WHEN sp.id IS NULL THEN NULL ELSE sp.name || ' v' || sp.version END AS specification,"
    "       lim.lsl, lim.usl, lim.target, lim.lod"
    " FROM runs r JOIN results x ON x.organization_id = $1 AND x.run_id = r.id"
    " JOIN instruments i ON i.organization_id = $1 AND i.id = r.instrument_id"
    " LEFT JOIN specifications sp ON sp.organization_id = $1 AND sp.id = r.specification_version_id"
    " LEFT JOIN LATERAL (SELECT (l->>'lsl')::float8 AS lsl, (l->>'usl')::float8 AS usl,"
    "                           (l->>'target')::float8 AS target, (l->>'lod')::float8 AS lod"
    "                      FROM jsonb_array_elements(sp.limits) l WHERE l->>'metric' = x.metric LIMIT 1) lim ON true"
    " WHERE r.organization_id = $1 AND r.sample_id = $2 AND r.kind = 'measurement'"
    "   AND ($3::uuid[] IS NULL OR r.id = ANY($3::uuid[]))"
    " ORDER BY r.created_at, r.id, x.recorded_at, x.id LIMIT " + std::to_string(max_lines + 1)};
const db::Decoder<CertificateLine> line_of{
    lines_q,
    {{"run_id", &CertificateLine::run_id}, {"measured_at", &CertificateLine::measured_at},
     {"metric", &CertificateLine::metric}, {"value", &CertificateLine::value}, {"unit", &CertificateLine::unit},
     {"evaluation", &CertificateLine::evaluation}, {"instrument", &CertificateLine::instrument},
     {"calibration", &CertificateLine::calibration}, {"specification", &CertificateLine::specification},
     {"lsl", &CertificateLine::lsl}, {"usl", &CertificateLine::usl}, {"target", &CertificateLine::target},
     {"lod", &CertificateLine::lod}}};
// The sample, share-locked (a failure that would open a nonconformance waits), and its open nonconformances.
const db::Query hold_check_q{
    "certificates_hold_check",
    "SELECT (SELECT count(*) FROM nonconformances n WHERE n.organization_id = $1 AND n.sample_id = s.id"
    "          AND n.status <> 'CLOSED') AS open"
    " FROM samples s WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted FOR SHARE"};
struct HoldCheck {
  std::int64_t open = 0;
};
const db::Decoder<HoldCheck> hold_check{hold_check_q, {{"open", &HoldCheck::open}}};
const db::Query insert_q{
    "certificates_insert",
    "WITH d AS (INSERT INTO directory.certificate_ids (organization_id, certificate_id) VALUES ($1, $2)),"
    " c AS (INSERT INTO certificates (organization_id, id, sample_id, run_ids, content, pdf, sha256, issued_by,"
    "                                 issued_by_name, issued_at)"
    "       VALUES ($1, $2, $3, $4::uuid[], $5::jsonb, $6, $7, $8, $9, $10::timestamptz) RETURNING *)"
    " SELECT " + certificate_json + " FROM c"};
const db::Query org_of_q{"certificates_org_of", "SELECT app.certificate_organization($1::uuid) AS organization_id"};
const db::Query verify_q{
    "certificates_verify",
    "SELECT encode(c.sha256, 'hex') AS sha256, to_jsonb(c.issued_at) #>> '{}' AS issued_at, c.issued_by_name,"
    "       coalesce(s.barcode, '') AS barcode"
    " FROM certificates c JOIN samples s ON s.organization_id = $1 AND s.id = c.sample_id"
    " WHERE c.organization_id = $1 AND c.id = $2"};

std::vector<std::pair<std::string, std::string>> properties_of(const Header& h) {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("Type", h.sample_type);
  if (h.material) out.emplace_back("Material", *h.material);
  if (h.diameter_mm) out.emplace_back("Diameter", std::to_string(*h.diameter_mm) + " mm");
  if (h.orientation) out.emplace_back("Orientation", *h.orientation);
  if (h.doping_type) out.emplace_back("Doping", *h.doping_type + (h.dopant ? " (" + *h.dopant + ")" : ""));
  if (h.resistivity_ohm_cm) out.emplace_back("Resistivity", number_text(*h.resistivity_ohm_cm) + " ohm·cm");
  if (h.thickness_um) out.emplace_back("Thickness", number_text(*h.thickness_um) + " µm");
  return out;
}

// What the certificate certifies, as stored with it and shown by GET.
std::string content_json(const CertificateContent& c) {
  json::array lines;
  for (const auto& l : c.lines) {
    json::object o{{"run_id", l.run_id}, {"measured_at", l.measured_at}, {"metric", l.metric}, {"value", l.value},
                   {"evaluation", l.evaluation}, {"instrument", l.instrument}};
    if (l.unit) o["unit"] = *l.unit;
    if (l.calibration) o["calibration"] = *l.calibration;
    if (l.specification) o["specification"] = *l.specification;
    for (auto [name, v] : {std::pair{"lsl", l.lsl}, {"usl", l.usl}, {"target", l.target}, {"lod", l.lod}})
      if (v) o[name] = *v;
    lines.push_back(std::move(o));
  }
  json::object props;
  for (const auto& [k, v] : c.properties) props[k] = v;
  return json_text(json::object{{"organization", c.organization}, {"sample_name", c.sample_name},
                                {"sample_barcode", c.sample_barcode}, {"properties", std::move(props)},
                                {"verify_url", c.verify_url}, {"lines", std::move(lines)}});
}

std::string base_url(RequestContext& ctx) {
  if (!ctx.deps.config.public_url.empty()) return ctx.deps.config.public_url;
  const auto host = ctx.req.header("host");
  return "http://" + std::string(host && !host->empty() ? *host : "localhost:8002");
}

}  // namespace

kit::Input<NewCertificate> NewCertificate::input() {
  kit::Input<NewCertificate> in{
      "NewCertificate",
      {kit::field("password", &NewCertificate::password).max_length(1024).multiline()
           .describe("The issuer's password, again (the certificate is signed)"),
       kit::field("run_ids", &NewCertificate::run_ids).max_length(500)
           .describe("The measurement runs of the sample to certify (default: all of them)")}};
  in.also([](const NewCertificate& c, kit::Problems& p) {
    if (c.run_ids) {
      kit::check_id_list("run_ids", *c.run_ids, p);
      if (c.run_ids->empty() && !p.has("run_ids")) p.add("run_ids", "must name at least one run");
    }
  });
  return in;
}

kit::Input<VerifyQuery> VerifyQuery::input() {
  return {"VerifyQuery",
          {kit::field("sha256", &VerifyQuery::sha256).pattern("[0-9a-fA-F]{64}")
               .describe("The SHA-256 of the PDF in your hand (sha256sum certificate.pdf)")}};
}

Reply issue_certificate(RequestContext& ctx, Path<kit::Id> p, Body<NewCertificate> in) {
  // What is certified, read first: a sample of another organization is a 404 before any password.
  std::vector<db::Statement> read;
  read.push_back({&header_q, db::Params(p.id)});
  db::Params runs(p.id);
  if (in.run_ids) runs.add_array(*in.run_ids);
  else runs.add(std::optional<std::string>());
  read.push_back({&lines_q, runs});
  if (in.run_ids) read.push_back({&runs_of_sample_q, runs});
  auto r = co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_only,
                                 [&](db::Tx& tx) { return tx.exec_all(std::move(read)); });
  if (r[0].empty()) throw not_found("No such sample");
  if (in.run_ids) {
    std::vector<std::string> known;
    for (int i = 0; i < r[2].rows(); ++i) known.push_back(run_id_of(r[2], i).id);
    ApiError bad = unprocessable("A run is not a measurement run of this sample");
    bool refused = false;
    for (std::size_t i = 0; i < in.run_ids->size(); ++i)
      if (std::find(known.begin(), known.end(), (*in.run_ids)[i]) == known.end()) {
        bad.with_field("run_ids[" + std::to_string(i) + "]", "is not a measurement run of this sample");
        refused = true;
      }
    if (refused) throw std::move(bad);
  }
  if (r[1].rows() == 0) throw conflict("The sample has no results to certify");
  if (r[1].rows() > max_lines)
    throw unprocessable("Too many results for one certificate")
        .with_field("run_ids", "the runs hold more than " + std::to_string(max_lines) + " results: name fewer runs");

  audit::Entry failed{"certificate.issue_failed", "sample", p.id, std::nullopt, "{\"reason\":\"wrong password\"}"};
  std::string refusal = "The password is not correct; no certificate was issued";
  const std::string signer = co_await kit::confirm_password(ctx, in.password, std::move(failed), std::move(refusal));

  const Header header = header_of(r[0]);
  CertificateContent content;
  content.certificate_id = crypto::uuid_v4();
  content.organization = header.organization;
  content.sample_name = header.name;
  content.sample_barcode = header.barcode;
  content.sample_type = header.sample_type;
  content.material = header.material;
  content.properties = properties_of(header);
  std::vector<std::string> run_ids;
  for (int i = 0; i < r[1].rows(); ++i) {
    content.lines.push_back(line_of(r[1], i));
    if (std::find(run_ids.begin(), run_ids.end(), content.lines.back().run_id) == run_ids.end())
      run_ids.push_back(content.lines.back().run_id);
  }
  content.issued_by = signer;
  content.issued_at = audit::utc_now();
  content.verify_url = base_url(ctx) + "/verify/" + content.certificate_id;
  const std::string stored = content_json(content);
  auto job = [content] { return render_certificate_pdf(content); };
  const WorkShare share = ctx.share();
  const std::string pdf = co_await ctx.deps.blocking->run(std::move(job), share);
  const std::string sha = crypto::sha256(pdf);

  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto held = co_await w.exec(hold_check_q, db::Params(p.id));
    if (held.empty()) throw not_found("No such sample");
    if (const auto open = hold_check(held).open; open > 0)
      throw conflict("The sample has " + std::to_string(open) +
                     " open nonconformance(s): no certificate until each has its disposition");
    db::Params params(content.certificate_id, p.id);
    params.add_array(run_ids);
    params.add(stored);
    params.add_bytea(pdf);
    params.add_bytea(sha);
    params.add(ctx.principal.user_id);
    params.add(signer);
    params.add(content.issued_at);
    w.audit("certificate.issue", "certificate", content.certificate_id, std::nullopt,
            json_text(json::object{{"sample_id", p.id}, {"sha256", crypto::to_hex(sha)}, {"runs", run_ids.size()},
                                   {"results", content.lines.size()}, {"issued_by", signer}}));
    std::vector<db::Statement> st;
    st.push_back({&insert_q, std::move(params)});
    auto done = co_await w.commit(std::move(st));
    std::string json = db::row_json(done[0]);
    co_return json;
  });
  co_return http::Response::json(201, std::move(row));
}

Reply get_certificate(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such certificate");
}

Reply certificate_pdf(RequestContext& ctx, Path<kit::Id> p) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), pdf_q, db::Params(p.id));
  if (r.empty()) throw not_found("No such certificate");
  auto bytes = crypto::from_hex(r.get(0, "pdf"));
  if (!bytes) throw std::runtime_error("a stored certificate is not hex");
  http::Response res;
  res.body = std::move(*bytes);
  res.content_type = "application/pdf";
  const std::string barcode(r.get(0, "barcode"));
  res.header("Content-Disposition",
             "inline; filename=\"certificate-" + (barcode.empty() ? p.id : barcode) + ".pdf\"");
  co_return res;
}

// Without credentials: the certificate's organization comes from the directory.
Reply verify_certificate(RequestContext& ctx, Path<kit::Id> p, QueryString<VerifyQuery> q) {
  auto org = co_await db::lookup_before_tenant(ctx.db(), org_of_q, db::Params(p.id));
  const auto org_id = org.empty() ? std::nullopt : org.get_optional(0, "organization_id");
  if (!org_id) throw not_found("No such certificate");
  db::TenantContext tenant;
  tenant.org_id = *org_id;
  auto r = co_await db::read(ctx.db(), tenant, verify_q, db::Params(p.id));
  if (r.empty()) throw not_found("No such certificate");
  std::string given = q.sha256;
  for (auto& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool valid = crypto::constant_time_equal(given, r.get(0, "sha256"));
  json::object out{{"valid", valid}};
  out["issued_at"] = valid ? json::value(std::string(r.get(0, "issued_at"))) : json::value(nullptr);
  out["issued_by"] = valid ? json::value(std::string(r.get(0, "issued_by_name"))) : json::value(nullptr);
  out["sample_barcode"] = valid ? json::value(std::string(r.get(0, "barcode"))) : json::value(nullptr);
  co_return http::Response::json(200, json_text(out));
}

}  // namespace spectra::quality
