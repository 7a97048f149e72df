// The calibration lockout's decision without a socket or a database: usable exactly when the latest
// calibration is VALID and expires after now (at the second of expiry it is expired), with the
// status, the whole days left (rounded down) and the reason in words. Every time is built from fixed
// epoch seconds, never the real clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "analysis/instruments/rules.hpp"

using namespace spectra;
using namespace spectra::instruments;

namespace {

constexpr long day = 86400;
constexpr long nov27 = 1795737600;  // 2026-11-27T00:00:00Z (date -u -d @1795737600)

Time at(long epoch_seconds) { return Time(std::chrono::seconds(epoch_seconds)); }

Calibration calibration(std::string status, Time expires_at, std::optional<Time> expired_at = std::nullopt) {
  return Calibration{"cal-1", "C-1", std::move(status), expires_at, expired_at};
}

}  // namespace

TEST(CalibrationRules, NoCalibrationIsNotUsable) {
  const auto s = judge_calibration(std::nullopt, at(nov27));
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "NONE");
  EXPECT_EQ(s.reason, "no calibration on record");
  EXPECT_EQ(s.calibration_id, std::nullopt);
  EXPECT_EQ(s.expires_at, std::nullopt);
  EXPECT_EQ(s.days_until_expiry, std::nullopt);
}

TEST(CalibrationRules, ValidExpiringInTenDaysIsUsable) {
  const Time expires = at(nov27 + 10 * day);  // 2026-12-07T00:00:00Z
  const auto s = judge_calibration(calibration("VALID", expires), at(nov27));
  EXPECT_TRUE(s.usable);
  EXPECT_EQ(s.status, "VALID");
  EXPECT_EQ(s.calibration_id, "cal-1");
  EXPECT_EQ(s.expires_at, expires);
  EXPECT_EQ(s.days_until_expiry, 10);
  EXPECT_EQ(s.reason, "valid until 2026-12-07 (certificate C-1)");
}

TEST(CalibrationRules, AtTheSecondOfExpiryItIsExpired) {
  const Time expires = at(nov27 + day);  // 2026-11-28T00:00:00Z
  const auto s = judge_calibration(calibration("VALID", expires), expires);
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "EXPIRED");
  EXPECT_EQ(s.days_until_expiry, 0);
  EXPECT_EQ(s.expires_at, expires);
  EXPECT_EQ(s.reason, "calibration expired on 2026-11-28 (certificate C-1)");
}

TEST(CalibrationRules, OneSecondBeforeExpiryItIsUsableWithZeroDaysLeft) {
  const Time expires = at(nov27 + day);
  const auto s = judge_calibration(calibration("VALID", expires), expires - std::chrono::seconds(1));
  EXPECT_TRUE(s.usable);
  EXPECT_EQ(s.status, "VALID");
  EXPECT_EQ(s.days_until_expiry, 0);
  EXPECT_EQ(s.reason, "valid until 2026-11-28 (certificate C-1)");
}

TEST(CalibrationRules, OneSecondAfterExpiryItIsExpiredByMinusOneDay) {
  // -1 s is -1/86400 of a day; rounded down (towards minus infinity) that is -1, not 0.
  const Time expires = at(nov27 + day);
  const auto s = judge_calibration(calibration("VALID", expires), expires + std::chrono::seconds(1));
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "EXPIRED");
  EXPECT_EQ(s.days_until_expiry, -1);
  EXPECT_EQ(s.reason, "calibration expired on 2026-11-28 (certificate C-1)");
}

TEST(CalibrationRules, ExpiredFourHundredDaysAgo) {
  const Time expires = at(nov27 - 400 * day);  // 2025-10-23T00:00:00Z
  const auto s = judge_calibration(calibration("VALID", expires), at(nov27));
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "EXPIRED");
  EXPECT_EQ(s.days_until_expiry, -400);
  EXPECT_EQ(s.reason, "calibration expired on 2025-10-23 (certificate C-1)");
}

TEST(CalibrationRules, DaysAreRoundedDownTowardsMinusInfinity) {
  // "Rounded down" is floor((expires_at - now) / 86400 s): 400 days and 1 s ago is -400.00001 days,
  // so -401; 1 s short of 400 days ago is -399.99999 days, so -400. Ahead of expiry it is truncation.
  const Time expires = at(nov27);
  const auto days_at = [&](long now) { return judge_calibration(calibration("VALID", expires), at(now)).days_until_expiry; };
  EXPECT_EQ(days_at(nov27 + 400 * day + 1), -401);
  EXPECT_EQ(days_at(nov27 + 400 * day), -400);
  EXPECT_EQ(days_at(nov27 + 400 * day - 1), -400);
  EXPECT_EQ(days_at(nov27 + day), -1);
  EXPECT_EQ(days_at(nov27 + 1), -1);
  EXPECT_EQ(days_at(nov27), 0);
  EXPECT_EQ(days_at(nov27 - 1), 0);
  EXPECT_EQ(days_at(nov27 - day + 1), 0);
  EXPECT_EQ(days_at(nov27 - day), 1);
  EXPECT_EQ(days_at(nov27 - 10 * day - 1), 10);
}

TEST(CalibrationRules, ExpiredByHandUsesTheDateItWasExpired) {
  const Time expires = at(nov27 + 30 * day);  // 2026-12-27, still ahead
  const Time expired = at(nov27 - 2 * day);   // 2026-11-25
  const auto s = judge_calibration(calibration("EXPIRED", expires, expired), at(nov27));
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "EXPIRED");
  EXPECT_EQ(s.calibration_id, "cal-1");
  EXPECT_EQ(s.expires_at, expires);
  // Days are counted from expires_at whatever the status, as the status-check SQL does (shapes.hpp).
  EXPECT_EQ(s.days_until_expiry, 30);
  EXPECT_EQ(s.reason, "calibration expired on 2026-11-25 (certificate C-1)");
}

TEST(CalibrationRules, ExpiredByHandWithoutADateUsesExpiresAt) {
  const Time expires = at(nov27 + 30 * day);  // 2026-12-27
  const auto s = judge_calibration(calibration("EXPIRED", expires), at(nov27));
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "EXPIRED");
  EXPECT_EQ(s.reason, "calibration expired on 2026-12-27 (certificate C-1)");
}

TEST(CalibrationRules, RevokedIsNotUsableEvenBeforeExpiry) {
  const auto s = judge_calibration(calibration("REVOKED", at(nov27 + 30 * day)), at(nov27));
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "REVOKED");
  EXPECT_EQ(s.calibration_id, "cal-1");
  EXPECT_EQ(s.days_until_expiry, 30);
  EXPECT_EQ(s.reason, "calibration revoked (certificate C-1)");
}

TEST(CalibrationRules, RevokedAfterExpiryStaysRevoked) {
  const auto s = judge_calibration(calibration("REVOKED", at(nov27 - day)), at(nov27));
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "REVOKED");
  EXPECT_EQ(s.reason, "calibration revoked (certificate C-1)");
}

TEST(CalibrationRules, PendingIsNotUsable) {
  const auto s = judge_calibration(calibration("PENDING", at(nov27 + 30 * day)), at(nov27));
  EXPECT_FALSE(s.usable);
  EXPECT_EQ(s.status, "PENDING");
  EXPECT_EQ(s.calibration_id, "cal-1");
  EXPECT_EQ(s.reason, "calibration pending (certificate C-1)");
}

TEST(CalibrationRules, ReasonsNameTheCertificate) {
  const Calibration c{"cal-9", "ACME/2026-117", "VALID", at(nov27 + day), std::nullopt};
  const auto s = judge_calibration(c, at(nov27));
  EXPECT_EQ(s.calibration_id, "cal-9");
  EXPECT_EQ(s.reason, "valid until 2026-11-28 (certificate ACME/2026-117)");
}

TEST(CalibrationRules, UtcDateAcrossADayBoundary) {
  EXPECT_EQ(utc_date(at(nov27)), "2026-11-27");               // 2026-11-27T00:00:00Z
  EXPECT_EQ(utc_date(at(nov27 + day - 1)), "2026-11-27");     // 2026-11-27T23:59:59Z
  EXPECT_EQ(utc_date(at(nov27 + day)), "2026-11-28");         // 2026-11-28T00:00:00Z
  EXPECT_EQ(utc_date(at(nov27 - 1)), "2026-11-26");           // 2026-11-26T23:59:59Z
  EXPECT_EQ(utc_date(at(nov27 + 35 * day - 1)), "2026-12-31");  // 2026-12-31T23:59:59Z
  EXPECT_EQ(utc_date(at(nov27 + 35 * day)), "2027-01-01");      // 2027-01-01T00:00:00Z
  EXPECT_EQ(utc_date(at(0)), "1970-01-01");
}

TEST(CalibrationRules, ExpiryDateInReasonsIsTheUtcDate) {
  // Expiring at the last second of 27 November UTC: the date printed is the 27th, in both reasons.
  const Time expires = at(nov27 + day - 1);
  EXPECT_EQ(judge_calibration(calibration("VALID", expires), at(nov27)).reason,
            "valid until 2026-11-27 (certificate C-1)");
  EXPECT_EQ(judge_calibration(calibration("VALID", expires), at(nov27 + day)).reason,
            "calibration expired on 2026-11-27 (certificate C-1)");
}

TEST(CalibrationRules, UsableExactlyWhenValidAndExpiresAfterNow) {
  const std::vector<std::string> statuses{"VALID", "PENDING", "EXPIRED", "REVOKED"};
  const std::vector<long> offsets{-2 * day, -1, 0, 1, 2 * day};  // expires_at - now
  const Time now = at(nov27);
  for (const auto& status : statuses) {
    for (long offset : offsets) {
      const auto s = judge_calibration(calibration(status, now + std::chrono::seconds(offset)), now);
      const bool expected = status == "VALID" && offset > 0;
      EXPECT_EQ(s.usable, expected) << status << " offset " << offset;
      const std::string expected_status = status == "VALID" && offset <= 0 ? "EXPIRED" : status;
      EXPECT_EQ(s.status, expected_status) << status << " offset " << offset;
      EXPECT_EQ(s.calibration_id, "cal-1") << status << " offset " << offset;
      EXPECT_FALSE(s.reason.empty()) << status << " offset " << offset;
    }
  }
}

TEST(LockoutRules, AnOpenSpcAlertHoldsAnInstrumentWhateverItsCalibration) {
  const Time now = at(nov27);
  const SpcHold hold{"series-1", "Sheet resistance", "alert-1", 2};
  const auto valid = judge_calibration(calibration("VALID", now + std::chrono::seconds(30 * day)), now);
  const auto expired = judge_calibration(calibration("VALID", now - std::chrono::seconds(day)), now);

  const auto free = judge_lockout(valid, std::nullopt);
  EXPECT_TRUE(free.usable);
  EXPECT_EQ(free.reason, valid.reason);

  const auto held = judge_lockout(valid, hold);
  EXPECT_FALSE(held.usable);
  EXPECT_EQ(held.reason, "open SPC alert on series 'Sheet resistance' (Nelson rule 2)");

  const auto both = judge_lockout(expired, hold);
  EXPECT_FALSE(both.usable);
  EXPECT_EQ(both.reason, "calibration expired on 2026-11-26 (certificate C-1); open SPC alert on series "
                         "'Sheet resistance' (Nelson rule 2)");

  const auto expired_only = judge_lockout(expired, std::nullopt);
  EXPECT_FALSE(expired_only.usable);
  EXPECT_EQ(expired_only.reason, expired.reason);
}
