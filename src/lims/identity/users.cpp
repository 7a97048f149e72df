// Users of the caller's organization: admins manage everyone; a PI manages engineers, technicians and
// viewers, never a PI or an admin (rules.hpp). A role change or deactivation revokes the user's refresh tokens at once.
#include "auth/password.hpp"
#include "lims/identity/handlers.hpp"
#include "lims/identity/rules.hpp"
#include "lims/identity/shapes.hpp"
#include "platform/blocking.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::identity {
namespace {

const std::string user_json = user_shape.sql("u");

const kit::List users_list{{
    .name = "users_list",
    .select = user_json,
    .from = "users u",
    .alias = "u",
    .where = "($2::text IS NULL OR u.role = $2) AND ($3::boolean IS NULL OR u.is_active = $3)"
             " AND ($4::text IS NULL OR u.email ILIKE '%' || $4 || '%' OR u.full_name ILIKE '%' || $4 || '%')",
    .sorts = {{"email", "u.email", "text"}, {"full_name", "u.full_name", "text"}},
}};
const db::Query get_q{"users_get", "SELECT " + user_json + " FROM users u WHERE u.organization_id = $1 AND u.id = $2"};
// The email's directory entry (unique across organizations, for login) and the user, in one statement
// of two inserts ($2 is the new user's id).
const db::Query insert_q{
    "users_insert",
    "WITH entry AS (INSERT INTO directory.user_emails (organization_id, user_id, email) VALUES ($1, $2, $3)),"
    " u AS (INSERT INTO users (organization_id, id, email, full_name, role, password_hash, password_changed_at,"
    "                          extra_metadata)"
    "       VALUES ($1, $2, $3, $4, $5, $6, now(), $7::jsonb) RETURNING *)"
    " SELECT " + user_json + " FROM u"};
const kit::RowEvents user_events{"users_audit_row", user_shape, "users u", "u"};
const db::Constraint email_taken{"user_emails_email_key", "email", "A user with this email already exists"};
const db::Query lock_admins_q{
    "users_lock_admins",
    "SELECT id FROM users WHERE organization_id = $1 AND role = 'admin' AND is_active ORDER BY id FOR UPDATE"};
const db::Query lock_target_q{
    "users_lock_target",
    "SELECT " + user_json + ", u.role AS _role, u.is_active AS _active, u.is_service_account AS _service_account"
    " FROM users u"
    " WHERE u.organization_id = $1 AND u.id = $2 FOR UPDATE"};
const db::Query update_q{
    "users_update",
    "WITH u AS (UPDATE users SET role = coalesce($3, role), is_active = coalesce($4, is_active),"
    "           full_name = coalesce($5, full_name), extra_metadata = coalesce($6::jsonb, extra_metadata)"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + user_json + " FROM u"};
const db::Query revoke_tokens_q{"users_revoke_refresh", "SELECT app.revoke_refresh_families($1, $2, NULL, $3)"};

bool looks_like_email(const std::string& e) {
  return e.find('@') != std::string::npos && e.find(' ') == std::string::npos && e.front() != '@' && e.back() != '@';
}

// Applies a change under the organization's account rules, in one transaction; answers the user.
asio::awaitable<std::string> apply_change(RequestContext& ctx, const std::string& id, const UserChange& change) {
  co_return co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> lock;  // named: GCC 12 miscompiles braced temporaries inside co_await
    lock.push_back({&lock_admins_q, {}});
    lock.push_back({&lock_target_q, db::Params(id)});
    auto locked = co_await w.exec_all(std::move(lock));
    const auto& target = locked[1];
    if (target.empty()) throw not_found("No such user");
    const Account before{auth::parse_role(target.get(0, "_role")).value_or(auth::Role::viewer),
                         target.get_bool(0, "_active"),
                         target.get_bool(0, "_service_account")};
    AccountChange want{std::nullopt, change.is_active};
    if (change.role) want.role = auth::parse_role(*change.role);
    const auto verdict = judge_account_change(ctx.principal.role, id == ctx.principal.user_id, before, want, locked[0].rows());
    if (verdict != Verdict::allowed) throw refusal(verdict);

    const bool role_changed = want.role && *want.role != before.role;
    const bool deactivated = change.is_active == false && before.active;
    std::vector<db::Statement> st;
    st.push_back({&update_q, db::Params(id, change.role, change.is_active, change.full_name, change.extra_metadata)});
    if (role_changed || deactivated)
      st.push_back({&revoke_tokens_q, db::Params(id, deactivated ? "user deactivated" : "role changed")});
    auto updated = co_await w.exec_all(std::move(st));
    std::string after = db::row_json(updated[0]);
    w.audit(deactivated ? "user.deactivate" : role_changed ? "user.role_change" : "user.update", "user", id,
            db::row_json(target), after);
    co_return after;
  });
}

}  // namespace

kit::Input<UserFilters> UserFilters::input() {
  return {"UserFilters",
          {kit::field("role", &UserFilters::role).one_of(auth::role_names),
           kit::field("is_active", &UserFilters::is_active),
           kit::field("q", &UserFilters::q).max_length(100).describe("Part of the email or the name")}};
}

kit::Input<NewUser> NewUser::input() {
  kit::Input<NewUser> in{
      "NewUser",
      {kit::field("email", &NewUser::email).max_length(320).format("email").rule([](const std::string& e) {
         return looks_like_email(e) ? std::nullopt : std::optional<std::string>("must be an email address");
       }),
       kit::field("full_name", &NewUser::full_name).max_length(200),
       kit::field("role", &NewUser::role).one_of(auth::role_names),
       kit::field("password", &NewUser::password).max_length(128),
       kit::field("extra_metadata", &NewUser::extra_metadata).object()}};
  in.also([](const NewUser& u, kit::Problems& p) {
    if (auto why = auth::password_policy_violation(u.password, u.email)) p.add("password", *why);
  });
  return in;
}

kit::Input<UserChange> UserChange::input() {
  return {"UserChange",
          {kit::field("role", &UserChange::role).one_of(auth::role_names),
           kit::field("is_active", &UserChange::is_active),
           kit::field("full_name", &UserChange::full_name).max_length(200).not_blank(),
           kit::field("extra_metadata", &UserChange::extra_metadata).object()}};
}

Reply list_users(RequestContext& ctx, QueryString<UserFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = kit::escape_like(*q.q);
  return users_list.page(ctx, db::Params(q.role, q.is_active, like), page);
}

Reply get_user(RequestContext& ctx, Path<kit::Id> p) { return kit::one(ctx, get_q, db::Params(p.id), "No such user"); }

Reply create_user(RequestContext& ctx, Body<NewUser> in) {
  const auto verdict = judge_account_creation(ctx.principal.role, auth::parse_role(in.role).value_or(auth::Role::admin));
  if (verdict != Verdict::allowed) throw refusal(verdict);
  auto job = [password = in.password] { return auth::hash_password(password); };  // a named local: see auth.cpp
  const WorkShare share = ctx.share();
  const std::string hash = co_await ctx.deps.passwords->run(std::move(job), share);
  const std::string id = crypto::uuid_v4();
  auto user = co_await kit::write(ctx, [&](kit::Write& w) {
    return w.create(insert_q, db::Params(id, in.email, in.full_name, in.role, hash, in.extra_metadata),
                    {"user.create", "user"}, user_events, id);
  });
  co_return http::Response::json(201, std::move(user));
}

Reply update_user(RequestContext& ctx, Path<kit::Id> p, Body<UserChange> change) {
  auto after = co_await apply_change(ctx, p.id, change);
  co_return http::Response::json(200, std::move(after));
}

Reply deactivate_user(RequestContext& ctx, Path<kit::Id> p) {
  UserChange c;
  c.is_active = false;
  co_await apply_change(ctx, p.id, c);
  co_return http::Response::no_content();
}

}  // namespace spectra::identity
