// The sample rules without a socket or a database: generated barcodes and their check symbol, and
// every custody move from every state.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "lims/samples/rules.hpp"

using namespace spectra;
using namespace spectra::samples;

namespace {

constexpr std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::vector<std::string> some_barcodes(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(generate_barcode());
  return out;
}

}  // namespace

TEST(Barcodes, GeneratedOnesAreShortUpperCaseUnambiguousAndCheckThemselves) {
  const std::regex shape("[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]");
  std::set<std::string> seen;
  for (const auto& b : some_barcodes(2000)) {
    EXPECT_TRUE(std::regex_match(b, shape)) << b;
    EXPECT_TRUE(has_generated_shape(b)) << b;
    EXPECT_TRUE(check_symbol_matches(b)) << b;
    EXPECT_EQ(barcode_problem(b), std::nullopt) << b;
    seen.insert(b);
  }
  EXPECT_EQ(seen.size(), 2000u) << "40 random bits should not repeat in 2000 draws";
}

TEST(Barcodes, EverySingleMistypedSymbolIsRefused) {
  for (const auto& good : some_barcodes(200)) {
    for (std::size_t i = 0; i < good.size(); ++i) {
      if (good[i] == '-') continue;
      for (char c : alphabet) {
        if (c == good[i]) continue;
        std::string typo = good;
        typo[i] = c;
        EXPECT_FALSE(check_symbol_matches(typo)) << good << " -> " << typo;
        EXPECT_NE(barcode_problem(typo), std::nullopt) << typo;
      }
    }
  }
}

TEST(Barcodes, SwappedNeighboursAreRefusedExceptZeroAndZ) {
  // Luhn mod 32 misses exactly one swap of neighbours: 0 and Z (values 0 and 31), whose doubled and
  // plain contributions agree.
  int swaps = 0, caught = 0;
  for (const auto& good : some_barcodes(500)) {
    std::string symbols;
    for (char c : good)
      if (c != '-') symbols += c;
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      if (symbols[i] == symbols[i + 1]) continue;
      if ((symbols[i] == '0' && symbols[i + 1] == 'Z') || (symbols[i] == 'Z' && symbols[i + 1] == '0')) continue;
      std::string s = symbols;
      std::swap(s[i], s[i + 1]);
      const std::string typo = s.substr(0, 4) + "-" + s.substr(4, 4) + "-" + s.substr(8);
      ++swaps;
      caught += check_symbol_matches(typo) ? 0 : 1;
    }
  }
  EXPECT_EQ(caught, swaps);
}

TEST(Barcodes, FreeFormBarcodesFollowTheScannableAlphabet) {
  EXPECT_EQ(barcode_problem("ACME-S-0001"), std::nullopt);
  EXPECT_EQ(barcode_problem("lot7/w12:a_b.c"), std::nullopt);
  EXPECT_EQ(barcode_problem(std::string(64, 'A')), std::nullopt);
  EXPECT_NE(barcode_problem(std::string(65, 'A')), std::nullopt);
  EXPECT_NE(barcode_problem("-starts-with-dash"), std::nullopt);
  EXPECT_NE(barcode_problem("has space"), std::nullopt);
  EXPECT_NE(barcode_problem("M\xc3\xbcller"), std::nullopt);
  EXPECT_NE(barcode_problem(""), std::nullopt);
  // The generated shape in lower case is free-form text, not a mistyped generated code.
  EXPECT_FALSE(has_generated_shape("abcd-efgh-j"));
}

namespace {

const Mover tech{"t1", auth::Role::technician};
const Mover other_tech{"t2", auth::Role::technician};
const Mover engineer{"e1", auth::Role::engineer};
using K = CustodyVerdict::Kind;

Whereabouts at(std::string status, std::optional<std::string> holder = std::nullopt) {
  return {std::move(status), "Rack 1", std::move(holder)};
}

}  // namespace

TEST(CustodyRules, TransferMovesAnAvailableSampleToTheNamedLocation) {
  for (const char* s : {"available", "in_use", "quarantined"}) {
    auto v = judge_move(at(s), {Move::transfer, "Rack 2", std::nullopt}, tech);
    ASSERT_EQ(v.kind, K::allowed) << s << ": " << v.message;
    EXPECT_EQ(v.next.location, "Rack 2");
    EXPECT_EQ(v.next.status, s);
  }
  auto nowhere = judge_move(at("available"), {Move::transfer, std::nullopt, std::nullopt}, tech);
  EXPECT_EQ(nowhere.kind, K::invalid);
  EXPECT_EQ(nowhere.field, "to_location");
  auto same = judge_move(at("available"), {Move::transfer, "Rack 1", std::nullopt}, tech);
  EXPECT_EQ(same.kind, K::invalid);
  auto to_person = judge_move(at("available"), {Move::transfer, "Rack 2", "u9"}, tech);
  EXPECT_EQ(to_person.kind, K::invalid);
  EXPECT_EQ(to_person.field, "to_user_id");
}

TEST(CustodyRules, ACheckOutHandsTheSampleToItsHolder) {
  auto self = judge_move(at("available"), {Move::check_out, std::nullopt, std::nullopt}, tech);
  ASSERT_EQ(self.kind, K::allowed);
  EXPECT_EQ(self.next.status, "checked_out");
  EXPECT_EQ(self.next.holder_id, "t1");
  EXPECT_EQ(self.next.location, "Rack 1");
  auto someone = judge_move(at("available"), {Move::check_out, "Bench 4", "t2"}, engineer);
  ASSERT_EQ(someone.kind, K::allowed);
  EXPECT_EQ(someone.next.holder_id, "t2");
  EXPECT_EQ(someone.next.location, "Bench 4");
}

TEST(CustodyRules, OnlyTheHolderOrAnEngineerReturnsACheckedOutSample) {
  const auto out = at("checked_out", "t1");
  auto holder = judge_move(out, {Move::return_, std::nullopt, std::nullopt}, tech);
  ASSERT_EQ(holder.kind, K::allowed);
  EXPECT_EQ(holder.next.status, "available");
  EXPECT_EQ(holder.next.holder_id, std::nullopt);
  EXPECT_EQ(holder.next.location, "Rack 1");
  EXPECT_EQ(judge_move(out, {Move::return_, "Rack 9", std::nullopt}, engineer).next.location, "Rack 9");
  EXPECT_EQ(judge_move(out, {Move::return_, std::nullopt, std::nullopt}, other_tech).kind, K::forbidden);
  EXPECT_EQ(judge_move(out, {Move::consume, std::nullopt, std::nullopt}, other_tech).kind, K::forbidden);
  EXPECT_EQ(judge_move(out, {Move::consume, std::nullopt, std::nullopt}, tech).kind, K::allowed);
  for (auto m : {Move::transfer, Move::check_out})
    EXPECT_EQ(judge_move(out, {m, "Rack 2", std::nullopt}, engineer).kind, K::conflict) << move_name(m);
  EXPECT_EQ(judge_move(at("available"), {Move::return_, std::nullopt, std::nullopt}, engineer).kind, K::conflict);
}

TEST(CustodyRules, AQuarantinedSampleMovesButIsNotCheckedOut) {
  EXPECT_EQ(judge_move(at("quarantined"), {Move::check_out, std::nullopt, std::nullopt}, engineer).kind, K::conflict);
  EXPECT_EQ(judge_move(at("quarantined"), {Move::transfer, "Quarantine cabinet", std::nullopt}, tech).kind, K::allowed);
  EXPECT_EQ(judge_move(at("quarantined"), {Move::dispose, std::nullopt, std::nullopt}, tech).kind, K::allowed);
}

TEST(CustodyRules, AConsumedOrDisposedSampleNeverMoves) {
  for (const char* s : {"consumed", "disposed"})
    for (auto m : {Move::transfer, Move::check_out, Move::return_, Move::consume, Move::dispose}) {
      auto v = judge_move(at(s), {m, "Rack 2", std::nullopt}, engineer);
      EXPECT_EQ(v.kind, K::conflict) << s << " " << move_name(m);
      EXPECT_EQ(refusal(v).code(), ErrorCode::conflict);
    }
  auto consumed = judge_move(at("available"), {Move::consume, std::nullopt, std::nullopt}, tech);
  EXPECT_EQ(consumed.next.status, "consumed");
  auto disposed = judge_move(at("checked_out", "t1"), {Move::dispose, "Waste", std::nullopt}, engineer);
  EXPECT_EQ(disposed.next.status, "disposed");
  EXPECT_EQ(disposed.next.holder_id, std::nullopt);
  EXPECT_EQ(disposed.next.location, "Waste");
}

TEST(CustodyRules, EveryMoveNameReadsBack) {
  for (auto m : {Move::transfer, Move::check_out, Move::return_, Move::consume, Move::dispose})
    EXPECT_EQ(parse_move(move_name(m)), m);
  EXPECT_EQ(parse_move("create"), std::nullopt);
}
