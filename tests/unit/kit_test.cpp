// The feature kit without a socket or a database: declared inputs, routes and their start-up checks,
// the OpenAPI document, statement names, and the identity rules (the example of a domain rule).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "kit/data.hpp"
#include "kit/route.hpp"
#include "lims/identity/rules.hpp"
#include "platform/db/sql_error.hpp"
#include "server/route_tables.hpp"

using namespace spectra;
using kit::Reply;
using kit::RequestContext;

namespace {

struct Thing {
  std::string name;
  std::optional<std::string> when;
  std::vector<std::string> tags;
  std::optional<std::int64_t> count;
  std::optional<double> weight;
  std::optional<bool> active;
  std::string kind = "plain";
  std::string extra_metadata = "{}";
  kit::Nullable<std::string> location;
  static kit::Input<Thing> input() {
    kit::Input<Thing> in{"Thing",
                         {kit::field("name", &Thing::name).max_length(10),
                          kit::field("when", &Thing::when).timestamp(),
                          kit::field("tags", &Thing::tags).or_default().max_length(3),
                          kit::field("count", &Thing::count).min(0).max(100),
                          kit::field("weight", &Thing::weight).min(0),
                          kit::field("active", &Thing::active),
                          kit::field("kind", &Thing::kind).or_default().one_of({"plain", "fancy"}),
                          kit::field("extra_metadata", &Thing::extra_metadata).object(),
                          kit::field("location", &Thing::location).max_length(20)}};
    in.also([](const Thing& t, kit::Problems& p) {
      if (t.kind == "fancy" && !t.count) p.add("count", "is required for a fancy thing");
    });
    return in;
  }
};

std::set<std::string> fields_of(const ApiError& e) {
  std::set<std::string> out;
  for (const auto& f : e.field_errors()) out.insert(f.field);
  return out;
}

ApiError error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(ErrorCode::internal, "no error was raised");
}

Reply noop(RequestContext&) { co_return http::Response::no_content(); }
Reply with_id(RequestContext&, kit::Path<kit::Id>) { co_return http::Response::no_content(); }
Reply with_body(RequestContext&, kit::Body<Thing>) { co_return http::Response::no_content(); }
Reply with_page(RequestContext&, kit::PageRequest) { co_return http::Response::no_content(); }

}  // namespace

TEST(Input, DecodesTypedValues) {
  const auto t = kit::input_of<Thing>().from_json(
      R"({"name":"bolt","when":"2026-11-26T20:41:00Z","tags":["a","b"],"count":7,"weight":1.5,"active":true,
          "kind":"fancy","extra_metadata":{"k":[1]},"location":null})");
  EXPECT_EQ(t.name, "bolt");
  EXPECT_EQ(t.when, "2026-11-26T20:41:00Z");
  EXPECT_EQ(t.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.count, 7);
  EXPECT_EQ(t.weight, 1.5);
  EXPECT_EQ(t.active, true);
  EXPECT_EQ(t.kind, "fancy");
  EXPECT_EQ(t.extra_metadata, R"({"k":[1]})");
  // null on a nullable field is a value (clear it); absent is not.
  EXPECT_TRUE(t.location.present);
  EXPECT_FALSE(t.location.value);
  const auto defaults = kit::input_of<Thing>().from_json(R"({"name":"nut"})");
  EXPECT_EQ(defaults.kind, "plain");
  EXPECT_EQ(defaults.extra_metadata, "{}");
  EXPECT_FALSE(defaults.location.present);
  EXPECT_FALSE(defaults.count);
}

TEST(Input, ReportsEveryFieldProblemAtOnceAs422) {
  auto e = error_of([] {
    kit::input_of<Thing>().from_json(
        R"({"name":5,"when":"yesterday","extra":true,"tags":[1],"count":101,"weight":-1,"active":"yes",
            "kind":"odd","extra_metadata":[],"location":"a very long location indeed"})");
  });
  EXPECT_EQ(e.code(), ErrorCode::unprocessable);
  EXPECT_EQ(fields_of(e), (std::set<std::string>{"name", "when", "extra", "tags", "count", "weight", "active", "kind",
                                                 "extra_metadata", "location"}));
  // A missing required field, and a blank one.
  EXPECT_EQ(fields_of(error_of([] { kit::input_of<Thing>().from_json("{}"); })), std::set<std::string>{"name"});
  EXPECT_EQ(fields_of(error_of([] { kit::input_of<Thing>().from_json(R"({"name":"  "})"); })), std::set<std::string>{"name"});
  // Rules across fields run once the fields themselves are valid.
  auto rule = error_of([] { kit::input_of<Thing>().from_json(R"({"name":"x","kind":"fancy"})"); });
  EXPECT_EQ(rule.code(), ErrorCode::unprocessable);
  EXPECT_EQ(fields_of(rule), std::set<std::string>{"count"});
}

TEST(Input, MalformedBodiesAre400) {
  for (const char* body : {"{", "[]", "", "\"x\"", "{\"name\":\"x\"} trailing"})
    EXPECT_EQ(error_of([&] { kit::input_of<Thing>().from_json(body); }).code(), ErrorCode::bad_request) << body;
  EXPECT_NO_THROW(kit::input_of<kit::PageRequest>().from_json("", true));  // an action's empty body is {}
}

TEST(Input, QueryTextIs400AndPathIs404) {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  const auto& page = kit::input_of<kit::PageRequest>();
  EXPECT_EQ(page.from_text(Pairs{}, ErrorCode::bad_request).limit, 50);
  EXPECT_EQ(page.from_text(Pairs{{"limit", "500"}}, ErrorCode::bad_request).limit, 500);
  for (const char* bad : {"0", "501", "-1", "ten", "5x", ""}) {
    if (*bad == 0) continue;  // ?limit= means the default
    auto e = error_of([&] { page.from_text(Pairs{{"limit", bad}}, ErrorCode::bad_request); });
    EXPECT_EQ(e.code(), ErrorCode::bad_request) << bad;
    EXPECT_EQ(fields_of(e), std::set<std::string>{"limit"}) << bad;
  }
  EXPECT_EQ(error_of([&] { page.from_text(Pairs{{"limit", "5"}, {"limit", "6"}}, ErrorCode::bad_request); }).code(),
            ErrorCode::bad_request);
  EXPECT_EQ(error_of([&] { page.from_text(Pairs{{"sort", "name; DROP"}}, ErrorCode::bad_request); }).code(),
            ErrorCode::bad_request);
  const auto& id = kit::input_of<kit::Id>();
  const auto malformed = error_of([&] { id.from_text(Pairs{{"id", "not-a-uuid"}}, ErrorCode::bad_request); });
  EXPECT_EQ(malformed.code(), ErrorCode::bad_request);
  EXPECT_EQ(fields_of(malformed), std::set<std::string>{"id"});
}

TEST(Input, TimesAreBoundedToWhatPostgreSqlTakes) {
  EXPECT_TRUE(kit::is_rfc3339("2026-11-26T20:41:00Z"));
  EXPECT_TRUE(kit::is_rfc3339("2026-11-26T20:41:00.123+01:00"));
  EXPECT_TRUE(kit::is_rfc3339("2024-02-29T00:00:00-15:59"));
  EXPECT_FALSE(kit::is_rfc3339("2026-11-26"));
  EXPECT_FALSE(kit::is_rfc3339("2026-11-26T20:41:00+99:00"));  // PostgreSQL: 22009, once a 500
  EXPECT_FALSE(kit::is_rfc3339("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(kit::is_rfc3339("2026-02-29T00:00:00Z"));
  EXPECT_FALSE(kit::is_rfc3339("2026-11-26T24:00:00Z"));
  EXPECT_EQ(kit::escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
}

TEST(Router, MatchesParametersAndPrefersLiteralSegments) {
  using M = http::Method;
  using kit::route;
  kit::Router r("t", {route(M::GET, "/api/v1/calibrations/{id}", with_id, auth::any_role("x:read"), "one"),
                      route(M::GET, "/api/v1/calibrations/status/check", noop, auth::any_role("x:read"), "check"),
                      route(M::PATCH, "/api/v1/calibrations/{id}/expire", with_id, auth::require_admin, "expire"),
                      route(M::GET, "/api/v1/calibrations", with_page, auth::any_role("x:read"), "list")});
  auto one = r.match(M::GET, "/api/v1/calibrations/abc");
  ASSERT_TRUE(one.route);
  EXPECT_EQ(one.route->summary, "one");
  ASSERT_EQ(one.params.size(), 1u);
  EXPECT_EQ(one.params[0].second, "abc");
  auto check = r.match(M::GET, "/api/v1/calibrations/status/check");
  ASSERT_TRUE(check.route);
  EXPECT_EQ(check.route->summary, "check");
  auto wrong = r.match(M::DELETE_, "/api/v1/calibrations/abc/expire");
  EXPECT_FALSE(wrong.route);
  EXPECT_EQ(wrong.allowed, std::vector<M>{M::PATCH});
  EXPECT_FALSE(r.match(M::GET, "/api/v1/nothing").route);
  EXPECT_TRUE(r.match(M::GET, "/api/v1/nothing").allowed.empty());
  EXPECT_TRUE(r.match(M::HEAD, "/api/v1/calibrations").route);
}

TEST(Router, StartUpRefusesTablesThatDeclareTooLittle) {
  using M = http::Method;
  using kit::route;
  // A duplicate route.
  EXPECT_THROW(kit::Router("t", {route(M::GET, "/a", noop, auth::anyone, "x"), route(M::GET, "/a", noop, auth::anyone, "y")}),
               std::logic_error);
  // A route admitting API keys with no scope.
  EXPECT_THROW(kit::Router("t", {route(M::GET, "/a", noop, auth::any_role(), "x")}), std::logic_error);
  // A path parameter the handler does not declare, and a declaration with no such parameter.
  EXPECT_THROW(kit::Router("t", {route(M::GET, "/a/{id}", noop, auth::anyone, "x")}), std::logic_error);
  EXPECT_THROW(kit::Router("t", {route(M::GET, "/a/{key}", with_id, auth::anyone, "x")}), std::logic_error);
  // A route row not built by route().
  kit::Route raw{M::GET, "/a", {}, auth::anyone, "x", 200, {}, false};
  EXPECT_THROW(kit::Router("t", {raw}), std::logic_error);
  EXPECT_NO_THROW(kit::Router("t", {route(M::POST, "/a/{id}", with_id, auth::users_only(auth::Role::pi), "x")}));
}

TEST(Router, RouteInputsComeFromTheHandlerSignature) {
  using M = http::Method;
  auto r = kit::route(M::POST, "/things", with_body, auth::anyone, "create", 201);
  EXPECT_EQ(r.inputs.body, kit::BodyKind::json);
  EXPECT_EQ(r.inputs.body_name, "Thing");
  EXPECT_TRUE(r.inputs.query.empty());
  auto l = kit::route(M::GET, "/things", with_page, auth::anyone, "list");
  EXPECT_EQ(l.inputs.body, kit::BodyKind::none);
  ASSERT_EQ(l.inputs.query.size(), 1u);
}

TEST(OpenApi, EveryIdentityBodyAndFilterHasItsFields) {
  auto doc = boost::json::parse(lims_router().openapi_json("test")).as_object();
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  const auto& schemas = doc.at("components").at("schemas").as_object();
  const auto& new_user = schemas.at("NewUser").as_object();
  EXPECT_EQ(new_user.at("type"), "object");
  EXPECT_EQ(new_user.at("additionalProperties"), false);
  std::set<std::string> required;
  for (const auto& r : new_user.at("required").as_array()) required.insert(std::string(r.as_string()));
  EXPECT_EQ(required, (std::set<std::string>{"email", "full_name", "role", "password"}));
  EXPECT_EQ(new_user.at("properties").at("role").at("enum").as_array().size(), 5u);
  EXPECT_EQ(new_user.at("properties").at("email").at("maxLength"), 320);
  // Nested settings carry their own bounds.
  EXPECT_EQ(schemas.at("OrganizationChange").at("properties").at("settings").at("properties")
                .at("recipe_approvals_required").at("maximum"), 10.0);
  const auto& list_users = doc.at("paths").at("/api/users").at("get").as_object();
  std::set<std::string> params;
  for (const auto& p : list_users.at("parameters").as_array()) params.insert(std::string(p.at("name").as_string()));
  EXPECT_EQ(params, (std::set<std::string>{"role", "is_active", "q", "limit", "cursor", "sort"}));
  const auto& patch = doc.at("paths").at("/api/users/{id}").at("patch").as_object();
  EXPECT_EQ(patch.at("requestBody").at("content").at("application/json").at("schema").at("$ref"),
            "#/components/schemas/UserChange");
  EXPECT_EQ(patch.at("parameters").at(0).at("schema").at("format"), "uuid");
  for (const auto& router : {lims_router(), analysis_router()}) {
    auto d = boost::json::parse(router.openapi_json("test")).as_object();
    for (const auto& route : router.routes()) EXPECT_TRUE(d.at("paths").as_object().contains(route.path)) << route.path;
  }
}

TEST(Statements, EveryNameIsUniqueAndADuplicateIsFound) {
  EXPECT_TRUE(db::duplicate_query_names().empty());
  static const db::Query first{"test_kit_duplicate", "SELECT 1"};
  static const db::Query second{"test_kit_duplicate", "SELECT 2"};
  EXPECT_EQ(db::duplicate_query_names(), std::vector<std::string>{"test_kit_duplicate"});
}

TEST(Constraints, AViolationNamesItsField) {
  static const db::Constraint barcode{"test_kit_barcode_key", "barcode", "A sample with this barcode already exists"};
  auto dup = db::to_api_error(db::SqlError("duplicate key", "23505", "test_kit_barcode_key"));
  EXPECT_EQ(dup.code(), ErrorCode::conflict);
  EXPECT_EQ(dup.detail(), "A sample with this barcode already exists");
  ASSERT_EQ(dup.field_errors().size(), 1u);
  EXPECT_EQ(dup.field_errors()[0].field, "barcode");
  // On Citus the shard's constraint carries the shard's number.
  auto on_shard = db::to_api_error(db::SqlError("duplicate key", "23505", "test_kit_barcode_key_102044"));
  ASSERT_EQ(on_shard.field_errors().size(), 1u);
  EXPECT_EQ(on_shard.field_errors()[0].field, "barcode");
  EXPECT_EQ(on_shard.detail(), "A sample with this barcode already exists");
  auto fk = db::to_api_error(db::SqlError("fk", "23503", "samples_material_fkey", "material_id"));
  EXPECT_EQ(fk.code(), ErrorCode::unprocessable);
  EXPECT_EQ(fk.field_errors().at(0).field, "material_id");
}

TEST(Shapes, AnswerOnlyTheDeclaredFields) {
  static constexpr std::string_view fields[] = {"id", "name", "hash=encode($.hash, 'hex')"};
  // The columns the database returns (the server writes the JSON), each named by its field.
  EXPECT_EQ((kit::Shape{fields}.sql("t")), "t.id AS \"id\", t.name AS \"name\", encode(t.hash, 'hex') AS \"hash\"");
  // The same fields as one jsonb value, where the database must hold the JSON itself.
  EXPECT_EQ((kit::Shape{fields}.jsonb("t")), "jsonb_build_object('id', t.id, 'name', t.name, 'hash', encode(t.hash, 'hex'))");
}

TEST(AccountRules, TheLastActiveAdminStays) {
  using auth::Role;
  using namespace identity;
  const Account admin{Role::admin, true};
  EXPECT_EQ(judge_account_change(Role::admin, false, admin, {Role::pi, std::nullopt}, 1), Verdict::last_active_admin);
  EXPECT_EQ(judge_account_change(Role::admin, false, admin, {std::nullopt, false}, 1), Verdict::last_active_admin);
  EXPECT_EQ(judge_account_change(Role::admin, false, admin, {Role::pi, std::nullopt}, 2), Verdict::allowed);
  // An inactive admin is not the last active one.
  EXPECT_EQ(judge_account_change(Role::admin, false, {Role::admin, false}, {Role::pi, std::nullopt}, 1), Verdict::allowed);
  // Renaming the last admin changes nothing the rule guards.
  EXPECT_EQ(judge_account_change(Role::admin, false, admin, {Role::admin, true}, 1), Verdict::allowed);
  EXPECT_EQ(refusal(Verdict::last_active_admin).code(), ErrorCode::conflict);
}

TEST(AccountRules, APiManagesOnlyRolesBelowTheirOwn) {
  using auth::Role;
  using namespace identity;
  EXPECT_EQ(judge_account_change(Role::pi, false, {Role::viewer, true}, {Role::technician, std::nullopt}, 1), Verdict::allowed);
  EXPECT_EQ(judge_account_change(Role::pi, false, {Role::technician, true}, {Role::engineer, std::nullopt}, 1), Verdict::allowed);
  EXPECT_EQ(judge_account_change(Role::pi, false, {Role::engineer, true}, {std::nullopt, false}, 1), Verdict::allowed);
  // Never grants a role at or above their own…
  for (auto raised : {Role::pi, Role::admin})
    EXPECT_EQ(judge_account_change(Role::pi, false, {Role::viewer, true}, {raised, std::nullopt}, 1), Verdict::outranks_caller);
  // …nor edits or deactivates a PI or an admin, themselves included.
  for (auto senior : {Role::pi, Role::admin}) {
    EXPECT_EQ(judge_account_change(Role::pi, false, {senior, true}, {std::nullopt, false}, 3), Verdict::outranks_caller);
    EXPECT_EQ(judge_account_change(Role::pi, false, {senior, true}, {Role::viewer, std::nullopt}, 3), Verdict::outranks_caller);
  }
  EXPECT_EQ(judge_account_change(Role::pi, true, {Role::pi, true}, {std::nullopt, std::nullopt}, 3), Verdict::outranks_caller);
  // An admin grants any role.
  EXPECT_EQ(judge_account_change(Role::admin, false, {Role::viewer, true}, {Role::admin, std::nullopt}, 1), Verdict::allowed);
  EXPECT_EQ(judge_account_change(Role::admin, true, {Role::admin, true}, {std::nullopt, false}, 3),
            Verdict::cannot_deactivate_self);
  EXPECT_EQ(refusal(Verdict::outranks_caller).code(), ErrorCode::forbidden);
}

TEST(AccountRules, APiCreatesOnlyRolesBelowTheirOwn) {
  using auth::Role;
  using namespace identity;
  for (auto role : {Role::viewer, Role::technician, Role::engineer})
    EXPECT_EQ(judge_account_creation(Role::pi, role), Verdict::allowed);
  for (auto role : {Role::pi, Role::admin}) EXPECT_EQ(judge_account_creation(Role::pi, role), Verdict::outranks_caller);
  for (auto role : {Role::viewer, Role::technician, Role::engineer, Role::pi, Role::admin})
    EXPECT_EQ(judge_account_creation(Role::admin, role), Verdict::allowed);
}

TEST(AccountRules, AnApiKeysAccountIsNotEditedAsAUser) {
  using auth::Role;
  using namespace identity;
  const Account key_account{Role::engineer, true, true};
  EXPECT_EQ(judge_account_change(Role::pi, false, key_account, {Role::pi, std::nullopt}, 1), Verdict::service_account);
  EXPECT_EQ(judge_account_change(Role::admin, false, key_account, {Role::admin, std::nullopt}, 1), Verdict::service_account);
  EXPECT_EQ(judge_account_change(Role::admin, false, key_account, {std::nullopt, false}, 1), Verdict::service_account);
  EXPECT_EQ(refusal(Verdict::service_account).code(), ErrorCode::forbidden);
}
