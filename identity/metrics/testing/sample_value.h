// Reads one sample back out of Prometheus text, for tests that check the
// exact value an exporter rendered.
#ifndef MAYFLY_IDENTITY_METRICS_TESTING_SAMPLE_VALUE_H_
#define MAYFLY_IDENTITY_METRICS_TESTING_SAMPLE_VALUE_H_

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mayfly::metrics::testing {

// The value of the unlabelled sample `name` in `text`, or -1 when there is
// none (every Mayfly metric is 0 or more).
inline double SampleValue(const std::string& text, const std::string& name) {
  const std::string prefix = absl::StrCat("\n", name, " ");
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return -1;
  const size_t begin = at + prefix.size();
  double value = -1;
  return absl::SimpleAtod(text.substr(begin, text.find('\n', begin) - begin),
                          &value)
             ? value
             : -1;
}

}  // namespace mayfly::metrics::testing

#endif  // MAYFLY_IDENTITY_METRICS_TESTING_SAMPLE_VALUE_H_
