#include "lims/process/drafts.hpp"

#include <utility>

#include "lims/process/rules.hpp"

namespace asio = boost::asio;

namespace spectra::process {
namespace {

struct Locked {
  db::Result versions;
  int at = -1;  // the row of the version decided on
};

// The lineage locked, the version found and the decider judged.
asio::awaitable<Locked> lock_for_decision(kit::RequestContext& ctx, kit::Write& w, const DraftDocument& doc,
                                          const std::string& id) {
  std::vector<db::Statement> st;
  st.push_back({&doc.lock, db::Params(id)});
  st.push_back({&doc.editors, db::Params(id)});
  auto r = co_await w.exec_all(std::move(st));
  Locked locked{std::move(r[0]), -1};
  for (int i = 0; i < locked.versions.rows(); ++i)
    if (locked.versions.get(i, "_id") == id) locked.at = i;
  if (locked.at < 0) throw not_found("No such " + std::string(doc.what));
  const DraftReview review{std::string(locked.versions.get(locked.at, "_status")),
                           std::string(locked.versions.get(locked.at, "_author_id")),
                           kit::split_list(r[1].empty() ? std::string_view() : r[1].get(0, "editor_ids"))};
  if (auto why = draft_decision_refusal(doc.what, review, Decider{ctx.principal.user_id, ctx.principal.role}))
    throw std::move(*why);
  co_return locked;
}

}  // namespace

asio::awaitable<std::string> approve_draft(kit::RequestContext& ctx, kit::Write& w, const DraftDocument& doc,
                                           std::string id, std::optional<std::string> comment) {
  Locked locked = co_await lock_for_decision(ctx, w, doc, id);
  const db::Result& versions = locked.versions;
  std::vector<db::Statement> st;
  std::vector<int> obsoleted;
  for (int i = 0; i < versions.rows(); ++i)
    if (versions.get(i, "_status") == "EFFECTIVE") {
      st.push_back({&doc.obsolete, db::Params(std::string(versions.get(i, "_id")))});
      obsoleted.push_back(i);
    }
  st.push_back({&doc.effective, db::Params(id, ctx.principal.user_id, comment)});
  auto done = co_await w.exec_all(std::move(st));
  const std::string obsolete_action = std::string(doc.entity) + ".obsolete";
  for (std::size_t k = 0; k < obsoleted.size(); ++k)
    w.audit(obsolete_action, doc.entity, std::string(versions.get(obsoleted[k], "_id")),
            db::row_json(versions, obsoleted[k]), db::row_json(done[k]));
  std::string json = db::row_json(done.back());
  w.audit(doc.approved_action, doc.entity, id, db::row_json(versions, locked.at), json);
  co_return json;
}

asio::awaitable<std::string> reject_draft(kit::RequestContext& ctx, kit::Write& w, const DraftDocument& doc,
                                          std::string id, std::optional<std::string> comment) {
  Locked locked = co_await lock_for_decision(ctx, w, doc, id);
  auto done = co_await w.exec(doc.reject, db::Params(id, ctx.principal.user_id, comment));
  std::string json = db::row_json(done);
  w.audit(std::string(doc.entity) + ".reject", doc.entity, id, db::row_json(locked.versions, locked.at), json);
  co_return json;
}

}  // namespace spectra::process
