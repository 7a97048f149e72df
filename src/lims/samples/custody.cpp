// The chain of custody: every move of a sample is an event appended under the sample's row lock, and
// numbered after the one before, so the chain never forks (rules.hpp decides what a move may do).
#include "lims/samples/handlers.hpp"
#include "lims/samples/rules.hpp"
#include "lims/samples/shapes.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::samples {
namespace {

const std::string custody_json = custody_shape.sql("c");
const std::string sample_json = sample_shape.sql("s");

const kit::List custody_list{{
    .name = "custody_list",
    .select = custody_json,
    .from = "custody_events c JOIN samples s ON s.organization_id = $1 AND s.id = c.sample_id AND NOT s.is_deleted",
    .alias = "c",
    .where = "c.sample_id = $2",
    .sorts = {{"seq", "c.seq", "integer"}},
    .default_sort = "seq",
    .always_given = 1,
}};
const db::Query lock_q{"custody_lock_sample",
                       "SELECT s.status AS _status, s.location AS _location, s.custodian_id AS _holder, s.custody_seq AS _seq, " +
                           sample_json +
                           " FROM samples s WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted FOR UPDATE"};
struct LockedSample {
  std::string status;
  std::optional<std::string> location, holder;
  std::int64_t seq = 0;
};
const db::Decoder<LockedSample> locked_sample{
    lock_q,
    {{"_status", &LockedSample::status}, {"_location", &LockedSample::location}, {"_holder", &LockedSample::holder},
     {"_seq", &LockedSample::seq}}};
const db::Query holder_q{"custody_holder_active", "SELECT is_active FROM users WHERE organization_id = $1 AND id = $2"};
struct HolderState {
  bool is_active = false;
};
const db::Decoder<HolderState> holder_state{holder_q, {{"is_active", &HolderState::is_active}}};
const db::Query move_q{
    "custody_move_sample",
    "WITH s AS (UPDATE samples SET status = $3, location = $4, custodian_id = $5, custody_seq = $6"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + sample_json + " FROM s"};
const db::Query append_q{
    "custody_append",
    "WITH c AS (INSERT INTO custody_events (organization_id, sample_id, seq, event_type, from_location, to_location,"
    "                                       from_user_id, to_user_id, actor_id, notes, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb) RETURNING *)"
    " SELECT " + custody_json + " FROM c"};
const db::Constraint holder_missing{"custody_events_organization_id_to_user_id_fkey", "to_user_id",
                                    "The user does not exist in your organization"};

}  // namespace

kit::Input<NewCustodyEvent> NewCustodyEvent::input() {
  return {"NewCustodyEvent",
          {kit::field("event_type", &NewCustodyEvent::event_type)
               .one_of({"transfer", "check_out", "return", "consume", "dispose"}),
           kit::field("to_location", &NewCustodyEvent::to_location).max_length(200).not_blank(),
           kit::field("to_user_id", &NewCustodyEvent::to_user_id).uuid()
               .describe("check_out: who takes the sample (the caller when absent)"),
           kit::field("notes", &NewCustodyEvent::notes).max_length(2000).multiline(),
           kit::field("extra_metadata", &NewCustodyEvent::extra_metadata).object()}};
}

Reply list_custody(RequestContext& ctx, Path<kit::Id> p, PageRequest page) {
  const bool first_page = !page.cursor || page.cursor->empty();
  auto body = co_await custody_list.page_json(ctx, db::Params(p.id), std::move(page));
  // Every live sample has its creation event: an empty first page means no such sample.
  if (first_page && body.starts_with("{\"items\":[]")) throw not_found("No such sample");
  co_return http::Response::json(200, std::move(body));
}

Reply record_custody(RequestContext& ctx, Path<kit::Id> p, Body<NewCustodyEvent> in) {
  const MoveRequest request{*parse_move(in.event_type), in.to_location, in.to_user_id};
  auto event = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> read;
    read.push_back({&lock_q, db::Params(p.id)});
    if (in.to_user_id) read.push_back({&holder_q, db::Params(*in.to_user_id)});
    auto r = co_await w.exec_all(std::move(read));
    const auto& sample = r[0];
    if (sample.empty()) throw not_found("No such sample");
    if (in.to_user_id && (r[1].empty() || !holder_state(r[1]).is_active))
      throw std::move(unprocessable("The user cannot take the sample")
                          .with_field("to_user_id", "is not an active user of your organization"));
    const LockedSample locked = locked_sample(sample);
    const Whereabouts now{locked.status, locked.location, locked.holder};
    const auto verdict = judge_move(now, request, {ctx.principal.user_id, ctx.principal.role});
    if (verdict.kind != CustodyVerdict::Kind::allowed) throw refusal(verdict);

    const auto seq = locked.seq + 1;
    const auto& next = verdict.next;
    std::vector<db::Statement> write;
    write.push_back({&move_q, db::Params(p.id, next.status, next.location, next.holder_id, seq)});
    write.push_back({&append_q, db::Params(p.id, seq, in.event_type, now.location, next.location, now.holder_id,
                                           next.holder_id, ctx.principal.user_id, in.notes, in.extra_metadata)});
    auto done = co_await w.exec_all(std::move(write));
    w.audit("sample." + in.event_type, "sample", p.id, db::row_json(sample), db::row_json(done[0]));
    std::string row = db::row_json(done[1]);  // named: GCC 12 mishandles a temporary in co_return
    co_return row;
  });
  co_return http::Response::json(201, std::move(event));
}

}  // namespace spectra::samples
