// Text for a Java .properties file that Kafka will read (Utils.loadProps,
// java.util.Properties.load: ISO-8859-1, '\' escapes, a line ended by \n,
// \r or \r\n, leading blanks of a value dropped). Rendered paths come from
// the command line and may hold anything a file name can: without escaping,
// a newline in one would start a property line of its own
// ("super.users=...").
#ifndef MAYFLY_BRIDGE_PROPERTIES_TEXT_H_
#define MAYFLY_BRIDGE_PROPERTIES_TEXT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace mayfly::bridge {

// `value` as a property value Properties.load reads back byte for byte:
// '\' doubled; a leading blank, every control character and every
// non-ASCII character (UTF-8, which ISO-8859-1 would garble) as \uXXXX.
// Bytes that are not UTF-8 become \uFFFD: refuse such input before (see
// FirstControlCharacter) if it matters.
std::string PropertiesValue(absl::string_view value);

// `text` for inside a '#' comment line: the same escapes, so that it cannot
// end the line and start a property.
std::string PropertiesComment(absl::string_view text);

// The first C0 control character or DEL in `s`, as "U+000A", if any: what
// `mayfly bridge render` refuses in a path before it renders one.
std::optional<std::string> FirstControlCharacter(absl::string_view s);

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_PROPERTIES_TEXT_H_
