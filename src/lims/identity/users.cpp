// Users of the caller's organization: admins manage everyone; a PI manages the team but not admins.
// Rules: the last active admin can be neither demoted nor deactivated; a role change or deactivation
// revokes the user's refresh tokens at once.
#include <boost/json.hpp>

#include "audit/audit.hpp"
#include "auth/password.hpp"
#include "lims/identity/handlers.hpp"
#include "platform/blocking.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_body.hpp"
#include "platform/pagination.hpp"

namespace asio = boost::asio;

namespace spectra::identity {
namespace {


constexpr db::Query list_q{
    "users_list",
    "SELECT to_jsonb(u) - 'password_hash', u.created_at::text, u.id FROM users u"
    " WHERE u.organization_id = app.current_org_id()"
    "   AND ($1::text IS NULL OR u.role = $1) AND ($2::boolean IS NULL OR u.is_active = $2)"
    "   AND ($3::text IS NULL OR u.email ILIKE '%' || $3 || '%' OR u.full_name ILIKE '%' || $3 || '%')"
    "   AND ($4::timestamptz IS NULL OR (u.created_at, u.id) < ($4::timestamptz, $5::uuid))"
    " ORDER BY u.created_at DESC, u.id DESC LIMIT $6"};
constexpr db::Query get_q{
    "users_get",
    "SELECT to_jsonb(u) - 'password_hash' FROM users u WHERE u.organization_id = app.current_org_id() AND u.id = $1"};
constexpr db::Query insert_q{
    "users_insert",
    "INSERT INTO users (organization_id, email, full_name, role, password_hash, password_changed_at, extra_metadata)"
    " VALUES (app.current_org_id(), $1, $2, $3, $4, now(), $5::jsonb) RETURNING to_jsonb(users) - 'password_hash', id"};
constexpr db::Query lock_admins_q{
    "users_lock_admins",
    "SELECT id FROM users WHERE organization_id = app.current_org_id() AND role = 'admin' AND is_active"
    " ORDER BY id FOR UPDATE"};
constexpr db::Query lock_target_q{
    "users_lock_target",
    "SELECT to_jsonb(u) - 'password_hash', u.role, u.is_active, u.is_service_account FROM users u"
    " WHERE u.organization_id = app.current_org_id() AND u.id = $1 FOR UPDATE"};
constexpr db::Query update_q{
    "users_update",
    "UPDATE users SET role = coalesce($2, role), is_active = coalesce($3, is_active),"
    " full_name = coalesce($4, full_name), extra_metadata = coalesce($5::jsonb, extra_metadata)"
    " WHERE organization_id = app.current_org_id() AND id = $1 RETURNING to_jsonb(users) - 'password_hash'"};
constexpr db::Query revoke_tokens_q{
    "users_revoke_refresh",
    "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2"
    " WHERE organization_id = app.current_org_id() AND user_id = $1 AND revoked_at IS NULL"};

struct UserChange {
  std::optional<std::string> role;
  std::optional<bool> is_active;
  std::optional<std::string> full_name;
  std::optional<std::string> extra_metadata;
};

// Applies a change under the organization's admin rules; answers the updated user.
asio::awaitable<std::string> apply_change(RequestContext& ctx, const std::string& id, UserChange change) {
  co_return co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<std::string> {
    std::vector<db::Statement> pre;
    pre.push_back({&lock_admins_q, {}});
    pre.push_back({&lock_target_q, db::Params(id)});
    auto r = co_await tx.exec_all(std::move(pre));
    const auto& admins = r[0];
    const auto& target = r[1];
    if (target.empty()) throw not_found("No such user");
    const std::string before(target.get(0, 0));
    const std::string old_role(target.get(0, 1));
    const bool was_active = target.get_bool(0, 2);
    const bool caller_is_admin = ctx.principal.role == auth::Role::admin;
    if (!caller_is_admin && (old_role == "admin" || change.role == "admin"))
      throw forbidden("Only an admin can manage admins");
    if (change.is_active == false && id == ctx.principal.user_id)
      throw conflict("You cannot deactivate your own account");
    const bool loses_admin = old_role == "admin" && was_active &&
                             ((change.role && *change.role != "admin") || change.is_active == false);
    if (loses_admin && admins.rows() <= 1)
      throw conflict("This is the organization's last active admin: make another admin first");

    const bool role_changed = change.role && *change.role != old_role;
    const bool deactivated = change.is_active == false && was_active;
    std::vector<db::Statement> st;
    db::Params up;
    up.add(id).add(change.role).add(change.is_active).add(change.full_name).add(change.extra_metadata);
    st.push_back({&update_q, std::move(up)});
    if (role_changed || deactivated)
      st.push_back({&revoke_tokens_q, db::Params(id, deactivated ? "user deactivated" : "role changed")});
    auto res = co_await tx.exec_all(std::move(st));
    const std::string after(res[0].get(0, 0));
    const char* action = deactivated ? "user.deactivate" : role_changed ? "user.role_change" : "user.update";
    std::vector<db::Statement> a;
    a.push_back(audit::statement(ctx, {action, "user", id, before, after}));
    co_await tx.exec_all(std::move(a), true);
    co_return after;
  });
}

}  // namespace

Result list_users(RequestContext& ctx) {
  const auto page = parse_page(ctx.req);
  std::optional<std::string> role, q;
  std::optional<bool> active;
  if (auto v = ctx.req.query_param("role")) {
    if (!auth::parse_role(*v)) throw bad_request("role must be one of admin, pi, engineer, technician, viewer");
    role = std::string(*v);
  }
  if (auto v = ctx.req.query_param("is_active")) {
    if (*v != "true" && *v != "false") throw bad_request("is_active must be true or false");
    active = *v == "true";
  }
  if (auto v = ctx.req.query_param("q"); v && !v->empty()) {
    std::string esc;
    for (char c : *v) {
      if (c == '%' || c == '_' || c == '\\') esc += '\\';
      esc += c;
    }
    q = esc;
  }
  db::Params p;
  p.add(role).add(active).add(q).add(page.after_created_at).add(page.after_id).add(page.limit + 1);
  auto r = co_await db::read(ctx.db(), ctx.tenant(), list_q, std::move(p));
  co_return http::Response::json(200, page_json(r, page));
}

Result get_user(RequestContext& ctx) {
  const auto id = uuid_path_param(ctx.req, "id");
  auto r = co_await db::read(ctx.db(), ctx.tenant(), get_q, db::Params(id));
  if (r.empty()) throw not_found("No such user");
  co_return http::Response::json(200, std::string(r.get(0, 0)));
}

Result create_user(RequestContext& ctx) {
  auto body = JsonBody::parse(ctx.req);
  body.allow_only({"email", "full_name", "role", "password", "extra_metadata"});
  const std::string email = body.required_string("email", 320);
  const std::string full_name = body.required_string("full_name", 200);
  const std::string role = body.required_enum("role", {"admin", "pi", "engineer", "technician", "viewer"});
  const std::string password = body.required_string("password", 128);
  const std::string meta = body.object_json("extra_metadata");
  if (!email.empty() && (email.find('@') == std::string::npos || email.find(' ') != std::string::npos ||
                         email.front() == '@' || email.back() == '@'))
    body.fail("email", "must be an email address");
  if (!password.empty())
    if (auto why = auth::password_policy_violation(password, email)) body.fail("password", *why);
  body.finish();
  if (role == "admin" && ctx.principal.role != auth::Role::admin) throw forbidden("Only an admin can create admins");

  auto job = [password] { return auth::hash_password(password); };  // a named local: see auth.cpp
  auto hash = co_await ctx.app.blocking->run(std::move(job));
  auto user = co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<std::string> {
    db::Params p;
    p.add(email).add(full_name).add(role).add(hash).add(meta);
    db::Result r;
    try {
      r = co_await tx.exec(insert_q, std::move(p));
    } catch (const db::SqlError& e) {
      if (e.sqlstate() == "23505")
        throw std::move(conflict("A user with this email already exists").with_field("email", "already exists"));
      throw;
    }
    const std::string json(r.get(0, 0));
    std::vector<db::Statement> a;
    a.push_back(audit::statement(ctx, {"user.create", "user", std::string(r.get(0, 1)), std::nullopt, json}));
    co_await tx.exec_all(std::move(a), true);
    co_return json;
  });
  co_return http::Response::json(201, user);
}

Result update_user(RequestContext& ctx) {
  const auto id = uuid_path_param(ctx.req, "id");
  auto body = JsonBody::parse(ctx.req);
  body.allow_only({"role", "is_active", "full_name", "extra_metadata"});
  UserChange c;
  c.role = body.optional_enum("role", {"admin", "pi", "engineer", "technician", "viewer"});
  c.is_active = body.optional_bool("is_active");
  c.full_name = body.optional_string("full_name", 200);
  if (c.full_name && c.full_name->find_first_not_of(" \t") == std::string::npos) body.fail("full_name", "must not be blank");
  if (body.has("extra_metadata")) c.extra_metadata = body.object_json("extra_metadata");
  body.finish();
  auto after = co_await apply_change(ctx, id, std::move(c));
  co_return http::Response::json(200, after);
}

Result deactivate_user(RequestContext& ctx) {
  const auto id = uuid_path_param(ctx.req, "id");
  UserChange c;
  c.is_active = false;
  co_await apply_change(ctx, id, std::move(c));
  co_return http::Response::no_content();
}

}  // namespace spectra::identity
