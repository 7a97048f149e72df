#pragma once
// The ML model registry (the Analysis API): feature sets (named, versioned lists of features) and
// models (a name and version over a feature set, with their metrics and an optional artifact), promoted
// through none, staging, production and archived, with one production version per model name. Each
// handler's parameters after the context are its declared inputs (kit/route.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"

namespace spectra::ml {

using kit::Body;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

inline constexpr const char* stages[] = {"none", "staging", "production", "archived"};

struct Feature {
  std::string name, dtype;
  std::optional<std::string> description;
  static kit::Input<Feature> input();
};
struct NewFeatureSet {
  std::string name;
  std::optional<std::int64_t> version;
  std::optional<std::vector<Feature>> features;
  std::optional<std::string> description;
  std::string extra_metadata = "{}";
  static kit::Input<NewFeatureSet> input();
};
struct FeatureSetFilters {
  std::optional<std::string> name;
  static kit::Input<FeatureSetFilters> input();
};
Reply list_feature_sets(RequestContext& ctx, QueryString<FeatureSetFilters> q, PageRequest page);
Reply create_feature_set(RequestContext& ctx, Body<NewFeatureSet> in);
Reply get_feature_set(RequestContext& ctx, Path<kit::Id> p);

struct NewModel {
  std::string name, version, feature_set_id, algorithm;
  std::string metrics = "{}";
  std::optional<std::string> artifact_attachment_id;
  std::string extra_metadata = "{}";
  static kit::Input<NewModel> input();
};
struct ModelFilters {
  std::optional<std::string> name, stage, feature_set_id;
  static kit::Input<ModelFilters> input();
};
struct Promotion {
  std::string stage;
  static kit::Input<Promotion> input();
};
Reply list_models(RequestContext& ctx, QueryString<ModelFilters> q, PageRequest page);
Reply create_model(RequestContext& ctx, Body<NewModel> in);
Reply get_model(RequestContext& ctx, Path<kit::Id> p);
Reply promote_model(RequestContext& ctx, Path<kit::Id> p, Body<Promotion> in);

}  // namespace spectra::ml
