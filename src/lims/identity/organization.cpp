// The caller's organization: any role reads it; an admin changes its name and settings.
#include <boost/json.hpp>

#include "audit/audit.hpp"
#include "lims/identity/handlers.hpp"
#include "platform/json_body.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::identity {
namespace {

constexpr db::Query get_q{"organization_get",
                          "SELECT to_jsonb(o) FROM organizations o WHERE o.id = app.current_org_id()"};
constexpr db::Query lock_q{"organization_lock",
                           "SELECT to_jsonb(o) FROM organizations o WHERE o.id = app.current_org_id() FOR UPDATE"};
constexpr db::Query update_q{
    "organization_update",
    "UPDATE organizations SET name = coalesce($1, name), settings = settings || $2::jsonb,"
    " extra_metadata = coalesce($3::jsonb, extra_metadata) WHERE id = app.current_org_id() RETURNING to_jsonb(organizations)"};

}  // namespace

Result get_organization(RequestContext& ctx) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), get_q);
  if (r.empty()) throw not_found();
  co_return http::Response::json(200, std::string(r.get(0, 0)));
}

Result update_organization(RequestContext& ctx) {
  auto body = JsonBody::parse(ctx.req);
  body.allow_only({"name", "settings", "extra_metadata"});
  auto name = body.optional_string("name", 200);
  if (name && name->find_first_not_of(" \t") == std::string::npos) body.fail("name", "must not be blank");
  std::optional<std::string> meta;
  if (body.has("extra_metadata")) meta = body.object_json("extra_metadata");
  json::object settings;
  if (const auto* s = body.object().if_contains("settings")) {
    if (!s->is_object()) {
      body.fail("settings", "must be an object");
    } else {
      for (const auto& kv : s->as_object()) {
        if (kv.key() == "recipe_approvals_required") {
          if (!kv.value().is_int64() || kv.value().as_int64() < 1 || kv.value().as_int64() > 10)
            body.fail("settings.recipe_approvals_required", "must be a whole number from 1 to 10");
          else
            settings[kv.key()] = kv.value();
        } else if (kv.key() == "final_approval_by_admin") {
          if (!kv.value().is_bool())
            body.fail("settings.final_approval_by_admin", "must be true or false");
          else
            settings[kv.key()] = kv.value();
        } else {
          body.fail("settings." + std::string(kv.key()), "unknown setting");
        }
      }
    }
  }
  body.finish();
  auto after = co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<std::string> {
    std::vector<db::Statement> st;
    st.push_back({&lock_q, {}});
    db::Params p;
    p.add(name).add(json::serialize(settings)).add(meta);
    st.push_back({&update_q, std::move(p)});
    auto r = co_await tx.exec_all(std::move(st));
    if (r[1].empty()) throw not_found();
    const std::string before(r[0].get(0, 0)), after_json(r[1].get(0, 0));
    std::vector<db::Statement> a;
    a.push_back(audit::statement(ctx, {"organization.update", "organization", ctx.principal.org_id, before, after_json}));
    co_await tx.exec_all(std::move(a), true);
    co_return after_json;
  });
  co_return http::Response::json(200, after);
}

}  // namespace spectra::identity
