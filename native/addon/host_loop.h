// The host's event loop, reached without linking against the host's libuv. The addon links its own libuv
// privately (docs/architecture.md, "The engine's own libuv"), so a uv_* call here would go to that copy;
// the inline driver needs the host's functions on the host's loop instead. They are looked up at run time
// in the process (Node and Electron export them); a host without them (Bun, Deno), and Windows, get the
// engine thread.
#ifndef TSNET_ADDON_HOST_LOOP_H
#define TSNET_ADDON_HOST_LOOP_H

#include <napi.h>
#include <uv.h>

namespace tsnet {

struct HostUv {
  uv_loop_t* (*default_loop)();
  int (*poll_init)(uv_loop_t*, uv_poll_t*, int);
  int (*poll_start)(uv_poll_t*, int, uv_poll_cb);
  int (*timer_init)(uv_loop_t*, uv_timer_t*);
  int (*timer_start)(uv_timer_t*, uv_timer_cb, uint64_t, uint64_t);
  int (*timer_stop)(uv_timer_t*);
  void (*unref)(uv_handle_t*);
  void (*close)(uv_handle_t*, uv_close_cb);
};

// The host's libuv functions when this environment's loop can be driven with them: the runtime is Node or
// Electron (Bun exports stubs that abort), every function is found, and env's loop is the host's default
// loop (the main thread's, which outlives every worker). Otherwise nullptr.
const HostUv* HostLoop(Napi::Env env, uv_loop_t** loop);

}  // namespace tsnet

#endif
