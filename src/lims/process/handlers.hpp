#pragma once
// Process documents: recipes (versioned, approved by PIs and admins under the organization's policy) and
// SOPs (versioned, one effective version per code, acknowledged by their readers). Each handler's
// parameters after the context are its declared inputs (kit/route.hpp).
#include <optional>
#include <string>

#include "kit/route.hpp"

namespace spectra::process {

using kit::Body;
using kit::Nullable;
using kit::OptionalBody;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

// ---- Recipes ----
struct NewRecipe {
  std::string name;
  std::optional<std::string> description, instrument_id, sop_id;
  std::string parameters;
  std::string extra_metadata = "{}";
  static kit::Input<NewRecipe> input();
};
struct RecipeChange {
  std::optional<std::string> name;
  Nullable<std::string> description, instrument_id, sop_id;
  std::optional<std::string> parameters, extra_metadata;
  static kit::Input<RecipeChange> input();
};
struct RecipeFilters {
  std::optional<std::string> status, q, instrument_id, root_recipe_id;
  static kit::Input<RecipeFilters> input();
};
struct Approval {
  std::optional<std::string> comment;
  static kit::Input<Approval> input();
};
struct Rejection {
  std::string comment;
  static kit::Input<Rejection> input();
};
Reply list_recipes(RequestContext& ctx, QueryString<RecipeFilters> q, PageRequest page);
Reply create_recipe(RequestContext& ctx, Body<NewRecipe> in);
Reply get_recipe(RequestContext& ctx, Path<kit::Id> p);
Reply update_recipe(RequestContext& ctx, Path<kit::Id> p, Body<RecipeChange> in);
Reply submit_recipe(RequestContext& ctx, Path<kit::Id> p, OptionalBody<kit::Nothing> in);
Reply approve_recipe(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Approval> in);
Reply reject_recipe(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Rejection> in);

// ---- SOPs ----
struct NewSop {
  std::string code, title, body_markdown;
  std::string extra_metadata = "{}";
  static constexpr std::size_t max_body_bytes = kit::markdown_body_limit;
  static kit::Input<NewSop> input();
};
struct NewSopVersion {
  std::optional<std::string> title;
  std::string body_markdown;
  std::optional<std::string> extra_metadata;
  static constexpr std::size_t max_body_bytes = kit::markdown_body_limit;
  static kit::Input<NewSopVersion> input();
};
struct SopChange {
  std::optional<std::string> title, body_markdown, extra_metadata;
  static constexpr std::size_t max_body_bytes = kit::markdown_body_limit;
  static kit::Input<SopChange> input();
};
struct SopFilters {
  std::optional<std::string> code, status, q;
  static kit::Input<SopFilters> input();
};
Reply list_sops(RequestContext& ctx, QueryString<SopFilters> q, PageRequest page);
Reply create_sop(RequestContext& ctx, Body<NewSop> in);
Reply get_sop(RequestContext& ctx, Path<kit::Id> p);
Reply update_sop(RequestContext& ctx, Path<kit::Id> p, Body<SopChange> in);
Reply create_sop_version(RequestContext& ctx, Path<kit::Id> p, Body<NewSopVersion> in);
Reply approve_sop(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Approval> in);
Reply reject_sop(RequestContext& ctx, Path<kit::Id> p, Body<Rejection> in);
Reply acknowledge_sop(RequestContext& ctx, Path<kit::Id> p, OptionalBody<kit::Nothing> in);

}  // namespace spectra::process
