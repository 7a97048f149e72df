#pragma once
// Quality (the LIMS API): specifications (versioned limits per metric, approved by a PI or an admin who
// did not write them), nonconformances opened by failed results and closed by a signed disposition,
// and certificates of analysis (a PDF whose SHA-256 anyone with its link can check). Each handler's
// parameters after the context are its declared inputs (kit/route.hpp).
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"

namespace spectra::quality {

using kit::Body;
using kit::Nullable;
using kit::OptionalBody;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

// ---- Specifications ----
struct AppliesTo {
  std::optional<std::string> material_id, recipe_id, sample_type;
  static kit::Input<AppliesTo> input();
};
struct LimitInput {
  std::string metric;
  std::optional<std::string> unit;
  std::optional<double> lsl, usl, target, warn_low, warn_high, lod;
  static kit::Input<LimitInput> input();
};
struct NewSpecification {
  std::string name;
  std::optional<std::string> description;
  std::optional<AppliesTo> applies_to;
  std::optional<std::vector<LimitInput>> limits;
  std::string extra_metadata = "{}";
  static kit::Input<NewSpecification> input();
};
struct SpecificationChange {
  std::optional<std::string> name;
  Nullable<std::string> description;
  std::optional<AppliesTo> applies_to;
  std::optional<std::vector<LimitInput>> limits;
  std::optional<std::string> extra_metadata;
  static kit::Input<SpecificationChange> input();
};
struct SpecificationFilters {
  std::optional<std::string> status, q, material_id, recipe_id, sample_type, lineage_id;
  static kit::Input<SpecificationFilters> input();
};
struct Decision {
  std::optional<std::string> comment;
  static kit::Input<Decision> input();
};
Reply list_specifications(RequestContext& ctx, QueryString<SpecificationFilters> q, PageRequest page);
Reply create_specification(RequestContext& ctx, Body<NewSpecification> in);
Reply get_specification(RequestContext& ctx, Path<kit::Id> p);
Reply update_specification(RequestContext& ctx, Path<kit::Id> p, Body<SpecificationChange> in);
Reply approve_specification(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Decision> in);
Reply reject_specification(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Decision> in);

// ---- Nonconformances ----
struct NonconformanceFilters {
  std::optional<std::string> status, sample_id, run_id;
  static kit::Input<NonconformanceFilters> input();
};
struct NonconformanceChange {
  std::optional<std::string> status;
  Nullable<std::string> notes;
  static kit::Input<NonconformanceChange> input();
};
struct Disposition {
  std::string disposition, password;
  std::optional<std::string> comment;
  static kit::Input<Disposition> input();
};
Reply list_nonconformances(RequestContext& ctx, QueryString<NonconformanceFilters> q, PageRequest page);
Reply get_nonconformance(RequestContext& ctx, Path<kit::Id> p);
Reply update_nonconformance(RequestContext& ctx, Path<kit::Id> p, Body<NonconformanceChange> in);
Reply dispose_nonconformance(RequestContext& ctx, Path<kit::Id> p, Body<Disposition> in);

// ---- Certificates of analysis ----
struct NewCertificate {
  std::string password;
  std::optional<std::vector<std::string>> run_ids;
  static kit::Input<NewCertificate> input();
};
struct VerifyQuery {
  std::string sha256;
  static kit::Input<VerifyQuery> input();
};
Reply issue_certificate(RequestContext& ctx, Path<kit::Id> p, Body<NewCertificate> in);
Reply get_certificate(RequestContext& ctx, Path<kit::Id> p);
Reply certificate_pdf(RequestContext& ctx, Path<kit::Id> p);
Reply verify_certificate(RequestContext& ctx, Path<kit::Id> p, QueryString<VerifyQuery> q);

}  // namespace spectra::quality
