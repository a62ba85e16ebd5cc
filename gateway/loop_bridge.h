// SPDX-License-Identifier: Apache-2.0
//
// LoopExecutor hands closures from any thread to the libuv loop thread: Post() appends to a
// locked mailbox and wakes the loop with uv_async_send. libuv may merge several wake-ups into
// one callback, so the callback empties the whole mailbox each time. After each drained batch
// it runs the after-batch hook (the server flushes the sessions whose replies became ready, so
// a batch of completions costs one write per session).
//
// Thread: Post() from any thread; everything else on the loop thread.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <vector>

#include "kvmap/kv_backend.h"

namespace gateway {

class LoopExecutor : public kvmap::Executor {
 public:
  explicit LoopExecutor(uv_loop_t* loop);
  ~LoopExecutor() override;

  void Post(std::function<void()> fn) override;
  void set_after_batch(std::function<void()> hook) { after_batch_ = std::move(hook); }
  // Closes the async handle; Post() after this drops closures. Loop thread.
  void Close();

 private:
  static void OnAsync(uv_async_t* handle);
  void Drain();

  uv_async_t async_;
  std::mutex mu_;
  std::vector<std::function<void()>> mailbox_;
  std::vector<std::function<void()>> running_;
  std::function<void()> after_batch_;
  bool is_closed_ = false;
};

// Runs fn on the loop after delay_ms, with a one-shot uv_timer freed after it fires. Loop
// thread.
void RunAfterOnLoop(uv_loop_t* loop, int64_t delay_ms, std::function<void()> fn);

}  // namespace gateway
