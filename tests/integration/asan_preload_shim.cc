// Preloaded after libasan into tpm2-tools when they load our sanitized TCTI (ASan builds only).
//
// Why: when libasan is preloaded into an uninstrumented program, its constructor runs after
// those of the program's libraries. p11-kit (linked into tpm2-tools via curl and gnutls) calls
// newlocale() from its constructor; the malloc inside newlocale() is then ASan's first
// interception, so ASan initialises while glibc holds its locale lock for writing. ASan's
// initialisation calls dlerror(), whose message translation takes the same lock for reading and
// releases it, which corrupts the lock; p11-kit's destructor then deadlocks in freelocale() at
// exit. Every tool hangs after doing its work.
//
// The fix: interpose newlocale() and make the first call allocate before taking the lock, so ASan
// initialises outside it. This file must not be instrumented itself: it runs before ASan has
// mapped its shadow memory.

#include <dlfcn.h>
#include <locale.h>
#include <stdlib.h>

extern "C" locale_t newlocale(int category_mask, const char* locale, locale_t base) noexcept {
  using NewLocaleFn = locale_t (*)(int, const char*, locale_t);
  static NewLocaleFn real_newlocale = nullptr;
  if (real_newlocale == nullptr) {
    void* volatile first = malloc(1);  // volatile: the pair must not be optimised away
    free(first);
    real_newlocale = reinterpret_cast<NewLocaleFn>(dlsym(RTLD_NEXT, "newlocale"));
    if (real_newlocale == nullptr) {
      abort();
    }
  }
  return real_newlocale(category_mask, locale, base);
}
