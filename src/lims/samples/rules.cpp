#include "lims/samples/rules.hpp"

#include <sodium.h>

#include <array>
#include <regex>

namespace spectra::samples {
namespace {

constexpr std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int base = 32;

int symbol_value(char c) noexcept {
  const auto at = alphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// The symbols of a barcode without its group separators.
std::string symbols_of(std::string_view barcode) {
  std::string out;
  for (char c : barcode)
    if (c != '-') out += c;
  return out;
}

// Luhn mod N over symbols, from the right; `with_check` when the last symbol is the check itself.
int luhn_sum(std::string_view symbols, bool with_check) noexcept {
  int factor = with_check ? 1 : 2, sum = 0;
  for (auto it = symbols.rbegin(); it != symbols.rend(); ++it) {
    int addend = factor * symbol_value(*it);
    factor = factor == 2 ? 1 : 2;
    sum += addend / base + addend % base;
  }
  return sum % base;
}

}  // namespace

std::string generate_barcode() {
  std::array<unsigned char, 5> random{};  // 40 bits: eight symbols of 5 bits
  randombytes_buf(random.data(), random.size());
  std::uint64_t bits = 0;
  for (auto b : random) bits = (bits << 8) | b;
  std::string symbols;
  for (int i = 7; i >= 0; --i) symbols += alphabet[(bits >> (5 * i)) & 31];
  symbols += alphabet[(base - luhn_sum(symbols, false)) % base];
  return symbols.substr(0, 4) + "-" + symbols.substr(4, 4) + "-" + symbols.substr(8);
}

bool has_generated_shape(std::string_view b) noexcept {
  if (b.size() != 11 || b[4] != '-' || b[9] != '-') return false;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (i != 4 && i != 9 && symbol_value(b[i]) < 0) return false;
  return true;
}

bool check_symbol_matches(std::string_view b) noexcept {
  return has_generated_shape(b) && luhn_sum(symbols_of(b), true) == 0;
}

std::optional<std::string> barcode_problem(std::string_view b) {
  static const std::regex format("[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}");
  if (!std::regex_match(b.begin(), b.end(), format))
    return "must be 1 to 64 letters, digits and . _ / : - (starting with a letter or digit)";
  if (has_generated_shape(b) && !check_symbol_matches(b))
    return "its check symbol does not match: the code was mistyped or misread";
  return std::nullopt;
}

std::optional<Move> parse_move(std::string_view t) noexcept {
  if (t == "transfer") return Move::transfer;
  if (t == "check_out") return Move::check_out;
  if (t == "return") return Move::return_;
  if (t == "consume") return Move::consume;
  if (t == "dispose") return Move::dispose;
  return std::nullopt;
}

std::string_view move_name(Move m) noexcept {
  switch (m) {
    case Move::transfer: return "transfer";
    case Move::check_out: return "check_out";
    case Move::return_: return "return";
    case Move::consume: return "consume";
    case Move::dispose: return "dispose";
  }
  return "transfer";
}

CustodyVerdict judge_move(const Whereabouts& now, const MoveRequest& r, const Mover& mover) {
  using K = CustodyVerdict::Kind;
  auto no = [](K kind, std::string message, std::string field = {}) {
    return CustodyVerdict{kind, std::move(field), std::move(message), {}};
  };
  if (now.status == "consumed" || now.status == "disposed")
    return no(K::conflict, "The sample is " + now.status + ": it cannot move any more");
  const bool out = now.status == "checked_out";
  if (out && (r.move == Move::transfer || r.move == Move::check_out))
    return no(K::conflict, "The sample is checked out: it must be returned first");
  if (!out && r.move == Move::return_) return no(K::conflict, "The sample is not checked out: there is nothing to return");
  if (now.status == "quarantined" && r.move == Move::check_out)
    return no(K::conflict, "The sample is quarantined: release it (PATCH its status) before checking it out");
  if (out && mover.user_id != now.holder_id.value_or("") && mover.role < auth::Role::engineer)
    return no(K::forbidden, "Only the sample's holder, or an engineer or above, may " +
                                std::string(r.move == Move::return_ ? "return" : move_name(r.move)) + " it");
  if (r.to_user_id && r.move != Move::check_out)
    return no(K::invalid, "only a check-out hands the sample to a person", "to_user_id");

  Whereabouts next = now;
  if (r.to_location) next.location = r.to_location;
  switch (r.move) {
    case Move::transfer:
      if (!r.to_location) return no(K::invalid, "is required: a transfer says where the sample goes", "to_location");
      if (r.to_location == now.location) return no(K::invalid, "is where the sample already is", "to_location");
      break;
    case Move::check_out:
      next.status = "checked_out";
      next.holder_id = r.to_user_id.value_or(mover.user_id);
      break;
    case Move::return_:
      next.status = "available";
      next.holder_id.reset();
      break;
    case Move::consume:
    case Move::dispose:
      next.status = r.move == Move::consume ? "consumed" : "disposed";
      next.holder_id.reset();
      break;
  }
  return CustodyVerdict{K::allowed, {}, {}, std::move(next)};
}

ApiError refusal(const CustodyVerdict& v) {
  using K = CustodyVerdict::Kind;
  if (v.kind == K::invalid) return std::move(unprocessable(v.field + " " + v.message).with_field(v.field, v.message));
  if (v.kind == K::forbidden) return forbidden(v.message);
  return conflict(v.message);
}

}  // namespace spectra::samples
