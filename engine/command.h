#pragma once
// The command table's vocabulary (Part 3 §4.2): handles with their Auth Role, flags for NV
// writes, sessions and parameter encryption, and Bind<>, which turns a typed handler
// `Result<Out> F(Tpm&, const In&)` into the dispatcher's uniform entry points.
//
// An In structure lists its handles first (In::kHandles of them), then its parameters; an Out
// structure lists its response handles first (Out::kHandles), then its parameters.

#include <array>
#include <cstdint>
#include <span>
#include <tuple>

#include "engine/base/tpm_rc.h"
#include "engine/wire/marshal.h"
#include "engine/wire/reader.h"

namespace tpm2emu::engine {

class Tpm;

enum class Role : uint8_t { kNone, kUser, kAdmin, kDup };

enum CommandFlag : uint32_t {
  kNv = 1u << 0,          // {NV}: may write NV; refused while NV is unavailable
  kNoSessions = 1u << 1,  // the command takes no sessions at all
  kDecrypt2 = 1u << 2,    // first parameter is a 2-byte-sized buffer that may be encrypted
  kEncrypt2 = 1u << 3,    // first response parameter likewise
  kPp = 1u << 4,          // +PP: physical presence may be required
};

struct Empty {
  static constexpr auto kFields = std::tuple{};
};

struct CommandContext {
  uint32_t code = 0;
  std::span<const uint8_t> handle_bytes;  // the handle area, 4 bytes each
  wire::Reader params;
  wire::Writer response_handles;
  wire::Writer response_params;
};

struct CommandDef {
  uint32_t code;
  uint8_t num_handles;
  std::array<Role, 3> roles;
  uint32_t flags;
  RcStatus (*check_handles)(std::span<const uint8_t> handle_bytes);
  RcStatus (*run)(Tpm& tpm, CommandContext& ctx);
  uint8_t num_response_handles;
};

namespace internal {

template <class T>
constexpr size_t HandleCount() {
  if constexpr (requires { T::kHandles; }) {
    return T::kHandles;
  } else {
    return 0;
  }
}

template <class F>
struct HandlerTraits;
template <class In, class Out>
struct HandlerTraits<Result<Out> (*)(Tpm&, const In&)> {
  using InType = In;
  using OutType = Out;
};

// Unmarshals In's fields: handles from `handles`, then parameters from `params`, tagging a
// format-one error with the handle or parameter number (Part 2 §6.6.3).
template <class In>
RcStatus ReadIn(In& in, wire::Reader& handles, wire::Reader* params) {
  constexpr size_t kNumHandles = HandleCount<In>();
  RcStatus status;
  size_t index = 0;
  auto read_one = [&](auto& field) {
    using wire::Unmarshal;  // with ADL, also finds overloads declared after this header
    if (!status.ok()) {
      return;
    }
    if (index < kNumHandles) {
      auto r = Unmarshal(handles, field);
      if (!r.ok()) {
        status = r.error().Handle(static_cast<uint32_t>(index + 1));
      }
    } else if (params != nullptr) {
      auto r = Unmarshal(*params, field);
      if (!r.ok()) {
        status = r.error().Param(static_cast<uint32_t>(index - kNumHandles + 1));
      }
    }
    ++index;
  };
  std::apply([&](auto... member) { (read_one(in.*member), ...); }, In::kFields);
  return status;
}

}  // namespace internal

template <auto F>
RcStatus CheckHandles(std::span<const uint8_t> handle_bytes) {
  using In = typename internal::HandlerTraits<decltype(F)>::InType;
  In in{};
  wire::Reader handles(handle_bytes);
  return internal::ReadIn(in, handles, nullptr);
}

template <auto F>
RcStatus Run(Tpm& tpm, CommandContext& ctx) {
  using Traits = internal::HandlerTraits<decltype(F)>;
  using In = typename Traits::InType;
  using Out = typename Traits::OutType;
  In in{};
  wire::Reader handles(ctx.handle_bytes);
  TRY(internal::ReadIn(in, handles, &ctx.params));
  if (!ctx.params.empty()) {
    return Rc::Size;  // octets left over after the last parameter
  }
  TRY_ASSIGN(Out out, F(tpm, in));
  constexpr size_t kOutHandles = internal::HandleCount<Out>();
  size_t index = 0;
  auto write_one = [&](const auto& field) {
    using wire::Marshal;
    Marshal(index < kOutHandles ? ctx.response_handles : ctx.response_params, field);
    ++index;
  };
  std::apply([&](auto... member) { (write_one(out.*member), ...); }, Out::kFields);
  return {};
}

// The table row for a handler: Def<F>(code, {roles...}, flags).
template <auto F>
constexpr CommandDef Def(uint32_t code, std::array<Role, 3> roles, uint32_t flags) {
  using Traits = internal::HandlerTraits<decltype(F)>;
  return CommandDef{code,
                    static_cast<uint8_t>(internal::HandleCount<typename Traits::InType>()),
                    roles,
                    flags,
                    &CheckHandles<F>,
                    &Run<F>,
                    static_cast<uint8_t>(internal::HandleCount<typename Traits::OutType>())};
}

// Looks up a command; nullptr when not implemented.
const CommandDef* FindCommand(uint32_t code);
// Every implemented command, sorted by code.
std::span<const CommandDef> AllCommands();

}  // namespace tpm2emu::engine
