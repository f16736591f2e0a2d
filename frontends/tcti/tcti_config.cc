#include "frontends/tcti/tcti_config.h"

#include <set>

namespace tpm2emu::tcti {
namespace {

Status Invalid(std::string_view config, const std::string& problem) {
  return InvalidArgument("TCTI config \"" + std::string(config) + "\": " + problem +
                         " (use DIR, or dir=DIR[,state-key=FILE][,state-backup])");
}

}  // namespace

StatusOr<TctiConfig> ParseTctiConfig(std::string_view config) {
  TctiConfig out;
  if (config.find('=') == std::string_view::npos) {
    out.dir = std::string(config);
    return out;
  }
  std::set<std::string, std::less<>> seen;
  std::string_view rest = config;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    if (!seen.insert(std::string(name)).second) {
      return Invalid(config, "option \"" + std::string(name) + "\" is given twice");
    }
    if (name == "dir" || name == "state-key") {
      if (value.empty()) {
        return Invalid(config, "option \"" + std::string(name) + "\" needs a value");
      }
      (name == "dir" ? out.dir : out.state_key_file) = std::string(value);
    } else if (name == "state-backup") {
      if (eq != std::string_view::npos) {
        return Invalid(config, "option \"state-backup\" takes no value");
      }
      out.state_backup = true;
    } else {
      return Invalid(config, "unknown option \"" + std::string(name) + "\"");
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest = rest.substr(comma + 1);
  }
  if (out.dir.empty()) {
    return Invalid(config, "state-key and state-backup need dir=DIR");
  }
  return out;
}

}  // namespace tpm2emu::tcti
