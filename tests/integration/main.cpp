#include <gtest/gtest.h>

#include "support/harness.hpp"

namespace {
class Environment : public ::testing::Environment {
 public:
  void SetUp() override { spectra::test::Harness::get().set_up(); }
  void TearDown() override { spectra::test::Harness::get().tear_down(); }
};
}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new Environment);
  return RUN_ALL_TESTS();
}
