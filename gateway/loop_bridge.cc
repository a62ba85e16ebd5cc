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

}  // namespace gateway
