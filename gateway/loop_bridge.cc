// SPDX-License-Identifier: Apache-2.0
#include "gateway/loop_bridge.h"

namespace gateway {

LoopExecutor::LoopExecutor(uv_loop_t* loop) {
  uv_async_init(loop, &async_, &LoopExecutor::OnAsync);
  async_.data = this;
}

LoopExecutor::~LoopExecutor() = default;

void LoopExecutor::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (is_closed_) return;
    mailbox_.push_back(std::move(fn));
    // Only the first closure of a batch needs to wake the loop.
    if (mailbox_.size() > 1) return;
  }
  uv_async_send(&async_);
}

void LoopExecutor::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    is_closed_ = true;
    mailbox_.clear();
  }
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&async_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  }
}

void LoopExecutor::OnAsync(uv_async_t* handle) { static_cast<LoopExecutor*>(handle->data)->Drain(); }

void LoopExecutor::Drain() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (mailbox_.empty()) break;
      running_.swap(mailbox_);
    }
    for (auto& fn : running_) fn();
    running_.clear();
  }
  if (after_batch_) after_batch_();
}

void RunAfterOnLoop(uv_loop_t* loop, int64_t delay_ms, std::function<void()> fn) {
  struct OneShot {
    uv_timer_t timer;
    std::function<void()> fn;
  };
  auto* shot = new OneShot{{}, std::move(fn)};
  uv_timer_init(loop, &shot->timer);
  shot->timer.data = shot;
  uv_timer_start(
      &shot->timer,
      [](uv_timer_t* t) {
        auto* s = static_cast<OneShot*>(t->data);
        std::function<void()> f = std::move(s->fn);
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<OneShot*>(h->data); });
        f();
      },
      static_cast<uint64_t>(delay_ms < 0 ? 0 : delay_ms), 0);
}

}  // namespace gateway
