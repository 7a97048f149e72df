// Feature sets: a name, a version (the next one of that name unless given), and the features a model
// reads, each with its name (once per set) and dtype. A name and version are unique (409).
#include <boost/json.hpp>
#include <set>

#include "analysis/ml/handlers.hpp"
#include "kit/data.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;

namespace spectra::ml {
namespace {

inline constexpr std::string_view feature_set_fields[] = {"id",          "organization_id", "name",          "version",
                                                          "features",    "description",     "created_by",    "extra_metadata",
                                                          "created_at",  "updated_at"};
inline constexpr kit::Shape feature_set_shape{feature_set_fields};
const std::string feature_set_json = feature_set_shape.sql("f");

const kit::List feature_sets_list{{
    .name = "feature_sets_list",
    .select = feature_set_json,
    .from = "feature_sets f",
    .alias = "f",
    .where = "NOT f.is_deleted AND ($2::text IS NULL OR f.name = $2)",
    .sorts = {{"name", "f.name", "text"}},
}};
const db::Query get_q{"feature_sets_get", "SELECT " + feature_set_json +
                                              " FROM feature_sets f WHERE f.organization_id = $1 AND f.id = $2 AND NOT f.is_deleted"};
const db::Query next_version_q{"feature_sets_next_version",
                               "SELECT coalesce(max(version), 0) + 1 AS next_version FROM feature_sets"
                               " WHERE organization_id = $1 AND name = $2"};
struct NextVersion {
  std::int64_t next_version = 0;
};
const db::Decoder<NextVersion> next_version{next_version_q, {{"next_version", &NextVersion::next_version}}};
const db::Query insert_q{
    "feature_sets_insert",
    "WITH f AS (INSERT INTO feature_sets (organization_id, id, name, version, features, description, created_by, extra_metadata)"
    "           VALUES ($1, $2, $3, $4::int, $5::jsonb, $6, $7, $8::jsonb) RETURNING *)"
    " SELECT " + feature_set_json + " FROM f"};

const db::Constraint name_version_taken{"feature_sets_name_version_key", "version",
                                        "A feature set with this name and version already exists"};

const std::vector<std::string> dtypes = {"float32", "float64", "int32", "int64", "bool", "string", "category", "datetime"};

}  // namespace

kit::Input<Feature> Feature::input() {
  return {"Feature",
          {kit::field("name", &Feature::name).max_length(200),
           kit::field("dtype", &Feature::dtype).one_of(dtypes),
           kit::field("description", &Feature::description).max_length(2000).multiline().not_blank()}};
}

kit::Input<NewFeatureSet> NewFeatureSet::input() {
  kit::Input<NewFeatureSet> in{
      "NewFeatureSet",
      {kit::field("name", &NewFeatureSet::name).max_length(200),
       kit::field("version", &NewFeatureSet::version).min(1).max(1000000).describe("Default: the next version of this name"),
       kit::field("features", &NewFeatureSet::features).max_length(10000).describe("The features, each named once"),
       kit::field("description", &NewFeatureSet::description).max_length(2000).multiline().not_blank(),
       kit::field("extra_metadata", &NewFeatureSet::extra_metadata).object()}};
  in.also([](const NewFeatureSet& f, kit::Problems& p) {
    if (!f.features) {
      if (!p.has("features")) p.add("features", "is required");
      return;
    }
    if (f.features->empty()) p.add("features", "must hold at least one feature");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < f.features->size(); ++i)
      if (!seen.insert((*f.features)[i].name).second)
        p.add("features[" + std::to_string(i) + "].name", "appears more than once");
  });
  return in;
}

kit::Input<FeatureSetFilters> FeatureSetFilters::input() {
  return {"FeatureSetFilters", {kit::field("name", &FeatureSetFilters::name).max_length(200)}};
}

Reply list_feature_sets(RequestContext& ctx, QueryString<FeatureSetFilters> q, PageRequest page) {
  return feature_sets_list.page(ctx, db::Params(q.name), std::move(page));
}

Reply get_feature_set(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such feature set");
}

Reply create_feature_set(RequestContext& ctx, Body<NewFeatureSet> in) {
  const std::string id = crypto::uuid_v4();
  boost::json::array features;
  for (const auto& f : *in.features) {
    boost::json::object o{{"name", f.name}, {"dtype", f.dtype}};
    if (f.description) o["description"] = *f.description;
    features.emplace_back(std::move(o));
  }
  const std::string features_json = json_text(features);
  // Without a version, the next one of the name: two made at the same moment would take the same
  // number, and the second is retried with the next (a client never sees a 409 for a version it did
  // not give).
  std::string row;
  for (int attempt = 1;; ++attempt) {
    try {
      row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
        std::int64_t version = 0;
        if (in.version) {
          version = *in.version;
        } else {
          auto next = co_await w.exec(next_version_q, db::Params(in.name));
          version = next_version(next).next_version;
        }
        auto ins = co_await w.exec(insert_q, db::Params(id, in.name, version, features_json, in.description,
                                                        ctx.principal.user_id, in.extra_metadata));
        std::string json = db::row_json(ins);
        w.audit("feature_set.create", "feature_set", id, std::nullopt, json);
        co_return json;
      });
      break;
    } catch (const db::SqlError& e) {
      if (in.version || !e.violates(name_version_taken) || attempt == 5) throw;
    }
  }
  co_return http::Response::json(201, std::move(row));
}

}  // namespace spectra::ml
