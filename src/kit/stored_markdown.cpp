// Notebook and SOP documents as stored: rendered for a write off the I/O threads when large, read back
// rendered again when another renderer made their HTML, and re-rendered in bulk by `spectra db upgrade`.
// (The pure rendering is kit/markdown.cpp, which links alone.)
#include "kit/stored_markdown.hpp"
#include "platform/blocking.hpp"
#include "platform/db/blocking_connection.hpp"

namespace spectra::kit {

boost::asio::awaitable<std::string> render_for_write(RequestContext& ctx, std::string markdown) {
  if (markdown.size() < 16 * 1024) co_return render_markdown(markdown);
  auto job = [markdown = std::move(markdown)] { return render_markdown(markdown); };
  const WorkShare share = ctx.share();
  co_return co_await ctx.deps.blocking->run(std::move(job), share);
}

boost::asio::awaitable<std::string> stored_html(RequestContext& ctx, std::optional<std::string> html,
                                                std::int64_t version, std::string markdown) {
  if (html && version == renderer_version()) co_return std::move(*html);
  co_return co_await render_for_write(ctx, std::move(markdown));
}

std::int64_t render_stale_documents(db::BlockingConnection& owner) {
  const std::string version = std::to_string(renderer_version());
  std::int64_t done = 0;
  for (const char* table : {"eln_entries", "sops"}) {
    for (;;) {
      // A batch at a time, each in its own transaction: a large notebook is not one long lock.
      auto stale = owner.exec(std::string("SELECT organization_id, id, body_markdown FROM ") + table +
                              " WHERE render_version <> " + version + " ORDER BY organization_id, id LIMIT 200");
      if (stale.empty()) break;
      owner.exec("BEGIN");
      try {
        for (int i = 0; i < stale.rows(); ++i) {
          owner.exec(std::string("UPDATE ") + table + " SET body_html = $3, render_version = " + version +
                         " WHERE organization_id = $1 AND id = $2 AND body_markdown = $4",
                     db::Params(std::string(stale.get(i, 0)), std::string(stale.get(i, 1)),
                                render_markdown(stale.get(i, 2)), std::string(stale.get(i, 2))));
          ++done;
        }
        owner.exec("COMMIT");
      } catch (...) {
        owner.exec("ROLLBACK");
        throw;
      }
    }
  }
  return done;
}

}  // namespace spectra::kit
