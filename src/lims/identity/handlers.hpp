#pragma once
// Identity and access: authentication, users, API keys, the organization, the audit trail.
#include <boost/asio/awaitable.hpp>

#include "platform/app.hpp"

namespace spectra::identity {

using Result = boost::asio::awaitable<http::Response>;

Result login(RequestContext& ctx);
Result refresh(RequestContext& ctx);
Result logout(RequestContext& ctx);
Result me(RequestContext& ctx);

Result list_users(RequestContext& ctx);
Result create_user(RequestContext& ctx);
Result get_user(RequestContext& ctx);
Result update_user(RequestContext& ctx);
Result deactivate_user(RequestContext& ctx);

Result list_api_keys(RequestContext& ctx);
Result create_api_key(RequestContext& ctx);
Result revoke_api_key(RequestContext& ctx);

Result get_organization(RequestContext& ctx);
Result update_organization(RequestContext& ctx);

Result list_audit(RequestContext& ctx);

}  // namespace spectra::identity
