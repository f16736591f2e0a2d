#pragma once
// The in-process TCTI's configuration string: what follows "tpm2emu:" in a TCTI name
// (`tpm2_getrandom -T tpm2emu:/var/lib/tpm 8`).
//
//   ""                          a fresh in-memory TPM, gone at finalize
//   DIR                         the TPM stored in DIR (any string without '=')
//   dir=DIR[,state-key=FILE][,state-backup]
//                               the same, with the options of `tpm2emu serve`: the state (and
//                               the volatile hand-off) encrypted at rest with the key in FILE
//                               (backend/state_key.h), and the previous good state kept
//
// Options are separated by commas and appear at most once, so in that form DIR and FILE cannot
// contain ','; a directory whose name contains '=' must use the dir= form.

#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace tpm2emu::tcti {

struct TctiConfig {
  std::string dir;             // empty: in memory
  std::string state_key_file;  // empty: not encrypted
  bool state_backup = false;
};

// kInvalidArgument, with a message that quotes the config and names the valid options, for an
// unknown or repeated option, an empty value, or state options without a directory.
StatusOr<TctiConfig> ParseTctiConfig(std::string_view config);

}  // namespace tpm2emu::tcti
