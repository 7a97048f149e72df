// The run rules without a socket or a database: every pair of run states through a status change and
// through unblock, checked against the allowed moves written out again here, and which states take
// results.
#include <gtest/gtest.h>

#include <iterator>
#include <set>
#include <string>
#include <utility>

#include "analysis/runs/rules.hpp"

using namespace spectra;
using namespace spectra::runs;

namespace {

using Pair = std::pair<std::string, std::string>;

// The rule stated again by hand (PRODUCT.md, Run states). Every pair not listed is refused.
const std::set<Pair> allowed_status_changes = {
    {"QUEUED", "RUNNING"},     {"RUNNING", "COMPLETED"},  {"RUNNING", "FAILED"},
    {"QUEUED", "CANCELLED"},   {"RUNNING", "CANCELLED"},  {"BLOCKED", "CANCELLED"},
};
const std::set<Pair> allowed_unblocks = {
    {"BLOCKED", "QUEUED"},
};

const char* via_name(Via via) { return via == Via::status_change ? "status_change" : "unblock"; }

std::size_t occurrences(const std::string& text, const std::string& word) {
  std::size_t n = 0;
  for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + word.size())) ++n;
  return n;
}

void expect_matches_table(Via via, const std::set<Pair>& allowed) {
  int pairs = 0, allowed_seen = 0;
  for (const std::string from : run_statuses)
    for (const std::string to : run_statuses) {
      ++pairs;
      const auto why = transition_refusal(from, to, via);
      if (allowed.count({from, to})) {
        ++allowed_seen;
        EXPECT_EQ(why, std::nullopt) << via_name(via) << " " << from << " -> " << to << " should be allowed";
        continue;
      }
      ASSERT_NE(why, std::nullopt) << via_name(via) << " " << from << " -> " << to << " should be refused";
      if (from == to) {
        EXPECT_GE(occurrences(*why, from), 2u) << "names the state twice: " << *why;
      } else {
        EXPECT_NE(why->find(from), std::string::npos) << "names the current state: " << *why;
        EXPECT_NE(why->find(to), std::string::npos) << "names the requested state: " << *why;
      }
    }
  EXPECT_EQ(pairs, 36);
  EXPECT_EQ(allowed_seen, static_cast<int>(allowed.size())) << "every allowed pair is a pair of run states";
}

}  // namespace

TEST(RunRules, TheSixRunStatesAreDistinctAndCoverTheTable) {
  const std::set<std::string> states(std::begin(run_statuses), std::end(run_statuses));
  EXPECT_EQ(std::size(run_statuses), 6u);
  EXPECT_EQ(states.size(), 6u);
  for (const auto& table : {allowed_status_changes, allowed_unblocks})
    for (const auto& [from, to] : table) {
      EXPECT_TRUE(states.count(from)) << from;
      EXPECT_TRUE(states.count(to)) << to;
    }
}

TEST(RunRules, EveryStatusChangeMatchesTheAllowList) {
  expect_matches_table(Via::status_change, allowed_status_changes);
}

TEST(RunRules, EveryUnblockMatchesTheAllowList) { expect_matches_table(Via::unblock, allowed_unblocks); }

TEST(RunRules, TheDefaultIsAStatusChange) {
  for (const std::string from : run_statuses)
    for (const std::string to : run_statuses)
      EXPECT_EQ(transition_refusal(from, to), transition_refusal(from, to, Via::status_change)) << from << " -> " << to;
}

TEST(RunRules, NoStateMovesToItself) {
  for (auto via : {Via::status_change, Via::unblock})
    for (const std::string s : run_statuses) {
      const auto why = transition_refusal(s, s, via);
      ASSERT_NE(why, std::nullopt) << via_name(via) << " " << s;
      EXPECT_GE(occurrences(*why, s), 2u) << *why;
    }
}

TEST(RunRules, ABlockedRunIsUnblockedBeforeItMovesOnButMayBeCancelled) {
  for (const std::string to : {"QUEUED", "RUNNING", "COMPLETED"}) {
    const auto why = transition_refusal("BLOCKED", to, Via::status_change);
    ASSERT_NE(why, std::nullopt) << "BLOCKED -> " << to;
    EXPECT_NE(why->find("BLOCKED"), std::string::npos) << *why;
    EXPECT_NE(why->find(to), std::string::npos) << *why;
    EXPECT_NE(why->find("unblock"), std::string::npos) << "points to unblock: " << *why;
  }
  EXPECT_EQ(transition_refusal("BLOCKED", "CANCELLED", Via::status_change), std::nullopt);
  // Runs that are not blocked are not told to unblock.
  for (const auto& [from, to] : std::set<Pair>{{"QUEUED", "COMPLETED"}, {"COMPLETED", "RUNNING"}, {"FAILED", "QUEUED"}}) {
    const auto why = transition_refusal(from, to, Via::status_change);
    ASSERT_NE(why, std::nullopt) << from << " -> " << to;
    EXPECT_EQ(why->find("unblock"), std::string::npos) << *why;
  }
}

TEST(RunRules, UnblockOnlyTakesABlockedRunBackToQueued) {
  EXPECT_EQ(transition_refusal("BLOCKED", "QUEUED", Via::unblock), std::nullopt);
  for (const std::string to : run_statuses)
    if (to != "QUEUED") {
      EXPECT_NE(transition_refusal("BLOCKED", to, Via::unblock), std::nullopt) << "BLOCKED -> " << to;
    }
  for (const std::string from : run_statuses)
    if (from != "BLOCKED") {
      EXPECT_NE(transition_refusal(from, "QUEUED", Via::unblock), std::nullopt) << from << " -> QUEUED";
    }
}

TEST(RunRules, UnknownStateNamesAreRefused) {
  for (auto via : {Via::status_change, Via::unblock}) {
    for (const std::string s : run_statuses) {
      for (const std::string unknown : {"PAUSED", "queued", "running", "blocked", "cancelled", "", " QUEUED", "QUEUED "}) {
        const auto into = transition_refusal(s, unknown, via);
        ASSERT_NE(into, std::nullopt) << via_name(via) << " " << s << " -> '" << unknown << "'";
        EXPECT_NE(into->find(s), std::string::npos) << *into;
        EXPECT_NE(into->find(unknown), std::string::npos) << *into;
        const auto out_of = transition_refusal(unknown, s, via);
        ASSERT_NE(out_of, std::nullopt) << via_name(via) << " '" << unknown << "' -> " << s;
        EXPECT_NE(out_of->find(s), std::string::npos) << *out_of;
        EXPECT_NE(out_of->find(unknown), std::string::npos) << *out_of;
      }
    }
    EXPECT_NE(transition_refusal("PAUSED", "PAUSED", via), std::nullopt);
    EXPECT_NE(transition_refusal("", "", via), std::nullopt);
  }
}

TEST(RunRules, ResultsAreTakenOnlyWhileRunningOrCompleted) {
  const std::set<std::string> takes = {"RUNNING", "COMPLETED"};
  for (const std::string s : run_statuses) EXPECT_EQ(takes_results(s), takes.count(s) == 1) << s;
  for (const char* s : {"running", "completed", "PAUSED", "", " RUNNING", "RUNNING "})
    EXPECT_FALSE(takes_results(s)) << "'" << s << "'";
}
