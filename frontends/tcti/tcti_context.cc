#include "frontends/tcti/tcti_context.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include "engine/base/endian.h"

namespace tpm2emu::tcti {
namespace {

// What a context holds besides the common part. Lives on the heap; the caller's context
// buffer only points to it, so the buffer's alignment and lifetime rules stay the caller's.
struct State {
  std::mutex mu;  // against CloseAllSessions() from an exit handler on another thread
  std::unique_ptr<Session> session;  // null once closed
  bool response_pending = false;
  Bytes response;
  uint8_t locality = 0;
  State* prev = nullptr;  // the live list, under g_live_mu
  State* next = nullptr;
};

// Every live context's State, for CloseAllSessions(): a process-wide list is the one way to
// reach contexts from an exit handler. Intrusive, constant-initialized and without a destructor,
// so it is usable from any exit handler, before or after static destructors ran.
constinit std::mutex g_live_mu;
constinit State* g_live_head = nullptr;

void Link(State* state) {
  std::lock_guard lock(g_live_mu);
  state->next = g_live_head;
  if (g_live_head != nullptr) {
    g_live_head->prev = state;
  }
  g_live_head = state;
}

void Unlink(State* state) {
  std::lock_guard lock(g_live_mu);
  if (state->prev != nullptr) {
    state->prev->next = state->next;
  } else if (g_live_head == state) {
    g_live_head = state->next;
  }
  if (state->next != nullptr) {
    state->next->prev = state->prev;
  }
  state->prev = state->next = nullptr;
}

// Closes and destroys the session (state.mu held). Errors go to stderr.
void CloseSession(State& state) noexcept;

// The layout of our context in the caller's buffer.
struct Context {
  TSS2_TCTI_CONTEXT_COMMON_V2 common;
  State* state;
};
static_assert(std::is_standard_layout_v<Context>);

constexpr size_t kHeaderSize = 10;

void Report(const std::string& message) noexcept {
  std::fprintf(stderr, "tcti-tpm2emu: %s\n", message.c_str());
}

// The context if it is one of ours and initialized, else nullptr with *rc set.
Context* Get(TSS2_TCTI_CONTEXT* tcti_context, TSS2_RC* rc) {
  if (tcti_context == nullptr) {
    *rc = TSS2_TCTI_RC_BAD_REFERENCE;
    return nullptr;
  }
  auto* context = reinterpret_cast<Context*>(tcti_context);
  if (context->common.v1.magic != kContextMagic || context->state == nullptr) {
    *rc = TSS2_TCTI_RC_BAD_CONTEXT;
    return nullptr;
  }
  return context;
}

TSS2_RC Transmit(TSS2_TCTI_CONTEXT* tcti_context, size_t size, const uint8_t* command) {
  try {
    TSS2_RC rc = TSS2_RC_SUCCESS;
    Context* context = Get(tcti_context, &rc);
    if (context == nullptr) {
      return rc;
    }
    if (command == nullptr) {
      return TSS2_TCTI_RC_BAD_REFERENCE;
    }
    State& state = *context->state;
    std::lock_guard lock(state.mu);
    if (state.session == nullptr) {
      return TSS2_TCTI_RC_GENERAL_FAILURE;  // closed by CloseAllSessions (process exit)
    }
    if (state.response_pending) {
      return TSS2_TCTI_RC_BAD_SEQUENCE;
    }
    // The header's size field must describe exactly the bytes handed in.
    if (size < kHeaderSize || LoadBe32(command + 2) != size) {
      return TSS2_TCTI_RC_BAD_VALUE;
    }
    state.response = state.session->backend().Execute(std::span(command, size), state.locality);
    state.response_pending = true;
    return TSS2_RC_SUCCESS;
  } catch (const std::bad_alloc&) {
    return TSS2_TCTI_RC_MEMORY;
  } catch (...) {
    return TSS2_TCTI_RC_GENERAL_FAILURE;
  }
}

TSS2_RC Receive(TSS2_TCTI_CONTEXT* tcti_context, size_t* size, uint8_t* response, int32_t timeout) {
  try {
    TSS2_RC rc = TSS2_RC_SUCCESS;
    Context* context = Get(tcti_context, &rc);
    if (context == nullptr) {
      return rc;
    }
    if (size == nullptr) {
      return TSS2_TCTI_RC_BAD_REFERENCE;
    }
    if (timeout < TSS2_TCTI_TIMEOUT_BLOCK) {
      return TSS2_TCTI_RC_BAD_VALUE;
    }
    State& state = *context->state;
    std::lock_guard lock(state.mu);
    if (!state.response_pending) {
      return TSS2_TCTI_RC_BAD_SEQUENCE;
    }
    // The response is complete already, so no timeout can expire.
    size_t needed = state.response.size();
    if (response == nullptr) {
      *size = needed;  // a size query; the response stays pending
      return TSS2_RC_SUCCESS;
    }
    if (*size < needed) {
      *size = needed;
      return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
    }
    std::memcpy(response, state.response.data(), needed);
    *size = needed;
    state.response.clear();
    state.response_pending = false;
    return TSS2_RC_SUCCESS;
  } catch (...) {
    return TSS2_TCTI_RC_GENERAL_FAILURE;
  }
}

void Finalize(TSS2_TCTI_CONTEXT* tcti_context) {
  TSS2_RC rc = TSS2_RC_SUCCESS;
  Context* context = Get(tcti_context, &rc);
  if (context == nullptr) {
    return;
  }
  State* state = std::exchange(context->state, nullptr);
  context->common.v1.magic = 0;
  Unlink(state);
  {
    std::lock_guard lock(state->mu);
    CloseSession(*state);
  }
  delete state;
}

void CloseSession(State& state) noexcept {
  if (state.session == nullptr) {
    return;
  }
  try {
    Status closed = state.session->Close();
    if (!closed.ok()) {
      Report(closed.message());
    }
  } catch (const std::exception& e) {
    Report(std::string("finalize failed: ") + e.what());
  } catch (...) {
    Report("finalize failed");
  }
  try {
    state.session.reset();
  } catch (...) {
    Report("finalize failed while releasing the TPM");
  }
  state.response_pending = false;
  state.response.clear();
}

TSS2_RC Cancel(TSS2_TCTI_CONTEXT* tcti_context) {
  TSS2_RC rc = TSS2_RC_SUCCESS;
  if (Get(tcti_context, &rc) == nullptr) {
    return rc;
  }
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;  // commands complete inside transmit
}

TSS2_RC GetPollHandles(TSS2_TCTI_CONTEXT* tcti_context, TSS2_TCTI_POLL_HANDLE* handles,
                       size_t* num_handles) {
  (void)handles;
  (void)num_handles;
  TSS2_RC rc = TSS2_RC_SUCCESS;
  if (Get(tcti_context, &rc) == nullptr) {
    return rc;
  }
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

TSS2_RC SetLocality(TSS2_TCTI_CONTEXT* tcti_context, uint8_t locality) {
  TSS2_RC rc = TSS2_RC_SUCCESS;
  Context* context = Get(tcti_context, &rc);
  if (context == nullptr) {
    return rc;
  }
  std::lock_guard lock(context->state->mu);
  if (context->state->response_pending) {
    return TSS2_TCTI_RC_BAD_SEQUENCE;
  }
  context->state->locality = locality;
  return TSS2_RC_SUCCESS;
}

TSS2_RC MakeSticky(TSS2_TCTI_CONTEXT* tcti_context, TPM2_HANDLE* handle, uint8_t sticky) {
  (void)handle;
  (void)sticky;
  TSS2_RC rc = TSS2_RC_SUCCESS;
  if (Get(tcti_context, &rc) == nullptr) {
    return rc;
  }
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

TSS2_RC InitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return TSS2_TCTI_RC_BAD_VALUE;
    case StatusCode::kIo:
    case StatusCode::kBusy:
    case StatusCode::kCorrupt:
      return TSS2_TCTI_RC_IO_ERROR;
    default:
      return TSS2_TCTI_RC_GENERAL_FAILURE;
  }
}

}  // namespace

size_t ContextSize() noexcept {
  return sizeof(Context);
}

void CloseAllSessions() noexcept {
  std::lock_guard lock(g_live_mu);
  for (State* state = g_live_head; state != nullptr; state = state->next) {
    std::lock_guard state_lock(state->mu);
    CloseSession(*state);
  }
}

TSS2_RC InitContext(TSS2_TCTI_CONTEXT* tcti_context, size_t* size, const char* config,
                    SessionOpener open) noexcept {
  if (size == nullptr) {
    return TSS2_TCTI_RC_BAD_VALUE;
  }
  if (tcti_context == nullptr) {
    *size = sizeof(Context);
    return TSS2_RC_SUCCESS;
  }
  if (*size < sizeof(Context)) {
    return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
  }
  try {
    auto opened = open(config == nullptr ? std::string_view() : std::string_view(config));
    if (!opened.ok()) {
      Report(opened.error().message());
      return InitCodeFor(opened.error());
    }
    auto state = std::make_unique<State>();
    state->session = std::move(*opened);

    auto* context = reinterpret_cast<Context*>(tcti_context);
    std::memset(context, 0, sizeof(Context));
    TSS2_TCTI_CONTEXT_COMMON_V1& v1 = context->common.v1;
    v1.magic = kContextMagic;
    v1.version = 2;
    v1.transmit = Transmit;
    v1.receive = Receive;
    v1.finalize = Finalize;
    v1.cancel = Cancel;
    v1.getPollHandles = GetPollHandles;
    v1.setLocality = SetLocality;
    context->common.makeSticky = MakeSticky;
    Link(state.get());
    context->state = state.release();
    return TSS2_RC_SUCCESS;
  } catch (const std::bad_alloc&) {
    return TSS2_TCTI_RC_MEMORY;
  } catch (const std::exception& e) {
    Report(std::string("init failed: ") + e.what());
    return TSS2_TCTI_RC_GENERAL_FAILURE;
  } catch (...) {
    Report("init failed");
    return TSS2_TCTI_RC_GENERAL_FAILURE;
  }
}

}  // namespace tpm2emu::tcti
