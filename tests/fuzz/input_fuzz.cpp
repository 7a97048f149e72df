// libFuzzer: the kit's declared-input decoding, with the declaration of a sample's create (the same
// fields and rules as lims/samples, copied here so that the harness links the kit alone). Any body is
// either decoded or refused with a 422 (ApiError) naming fields; anything else escaping is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kit/input.hpp"
#include "platform/error.hpp"

namespace {

using namespace spectra;

struct FuzzSample {
  std::string name;
  std::optional<std::string> barcode;
  std::string sample_type;
  std::optional<std::string> material_id, parent_sample_id, location;
  std::string status;
  std::optional<std::string> extra_metadata;
  std::optional<double> diameter_mm;
  std::optional<std::int64_t> die_x;
  std::optional<bool> flag;
  std::optional<std::vector<std::string>> sample_ids;
  static kit::Input<FuzzSample> input() {
    kit::Input<FuzzSample> in{
        "FuzzSample",
        {kit::field("name", &FuzzSample::name).max_length(200),
         kit::field("barcode", &FuzzSample::barcode).max_length(64),
         kit::field("sample_type", &FuzzSample::sample_type).one_of({"wafer", "die", "powder", "film", "bulk", "solution", "other"}),
         kit::field("material_id", &FuzzSample::material_id).uuid(),
         kit::field("parent_sample_id", &FuzzSample::parent_sample_id).uuid(),
         kit::field("location", &FuzzSample::location).max_length(200).not_blank(),
         kit::field("status", &FuzzSample::status).or_default().one_of({"available", "in_use", "quarantined"}),
         kit::field("extra_metadata", &FuzzSample::extra_metadata).object(),
         kit::field("diameter_mm", &FuzzSample::diameter_mm),
         kit::field("die_x", &FuzzSample::die_x),
         kit::field("flag", &FuzzSample::flag),
         kit::field("sample_ids", &FuzzSample::sample_ids).max_length(500)}};
    in.also([](const FuzzSample& s, kit::Problems& p) {
      if (s.sample_ids) kit::check_id_list("sample_ids", *s.sample_ids, p);
    });
    return in;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    const FuzzSample s = kit::input_of<FuzzSample>().from_json(body);
    if (s.name.size() > 200 * 4) std::abort();  // at most 200 characters of UTF-8
  } catch (const ApiError& e) {
    if (e.code() != ErrorCode::unprocessable && e.code() != ErrorCode::bad_request) std::abort();
  }
  return 0;
}
