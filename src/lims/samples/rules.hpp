#pragma once
// The sample rules as plain functions, unit-tested without a socket or a database: scannable barcodes,
// and what a custody move may do to a sample. The handlers apply them inside the transaction that
// locked the sample's row.
#include <optional>
#include <string>
#include <string_view>

#include "auth/rbac.hpp"
#include "platform/error.hpp"

namespace spectra::samples {

// ---- Barcodes ----
// A generated barcode is short, upper case and unambiguous: eight random symbols of Crockford's base 32
// (digits and letters without I, L, O, U) and a check symbol (Luhn mod 32, which catches every single
// mistyped symbol and every swap of two neighbours), grouped for people: "K7M3-QX9P-R".

// A new barcode from 40 random bits.
std::string generate_barcode();
// Whether text has the generated shape (XXXX-XXXX-C in the alphabet).
bool has_generated_shape(std::string_view barcode) noexcept;
// Whether a barcode of the generated shape carries its right check symbol.
bool check_symbol_matches(std::string_view barcode) noexcept;
// The problem with a barcode a person or a file gives, if any: its format (what a label prints and a
// scanner types back), or, for one of the generated shape, a check symbol that does not match.
std::optional<std::string> barcode_problem(std::string_view barcode);

// ---- Custody ----

enum class Move { transfer, check_out, return_, consume, dispose };
std::optional<Move> parse_move(std::string_view event_type) noexcept;
std::string_view move_name(Move m) noexcept;

// Where a sample is, as its row says.
struct Whereabouts {
  std::string status;                    // available, in_use, checked_out, consumed, disposed, quarantined
  std::optional<std::string> location;
  std::optional<std::string> holder_id;  // who has it checked out
};

struct MoveRequest {
  Move move = Move::transfer;
  std::optional<std::string> to_location;
  std::optional<std::string> to_user_id;
};

struct Mover {
  std::string user_id;
  auth::Role role = auth::Role::viewer;
};

struct CustodyVerdict {
  enum class Kind { allowed, invalid, forbidden, conflict } kind = Kind::allowed;
  std::string field;    // for invalid: the field at fault
  std::string message;  // why not, in words
  Whereabouts next;     // for allowed: where the sample is after the move
};

// What `request` by `mover` does to a sample at `now`: the next whereabouts, or why not.
//  - a consumed or disposed sample never moves (conflict);
//  - a checked-out sample is returned (or consumed, disposed) by its holder or an engineer and above,
//    and is not transferred or checked out again until it is returned;
//  - a quarantined sample is not checked out;
//  - a transfer names the location it goes to; a check-out hands the sample to a person (the mover when
//    none is named); a return puts it back (where it was, unless a location is named).
CustodyVerdict judge_move(const Whereabouts& now, const MoveRequest& request, const Mover& mover);
// The error a refusal answers: 422 naming the field, 403 or 409, in words.
ApiError refusal(const CustodyVerdict& v);

}  // namespace spectra::samples
