// SPDX-License-Identifier: Apache-2.0
//
// GuardedBy: a completion that runs only while its owner exists. Owners that hand callbacks to
// the backend or to a RedisClient (which may complete after the owner is gone, for example
// when the backend fails its pending operations at shutdown) keep a std::shared_ptr<int> token
// and wrap each callback with it; a completion that arrives after the token died is dropped.
//
// Thread: the loop thread.
#pragma once

#include <memory>
#include <utility>

namespace gateway {

template <class F>
auto GuardedBy(const std::shared_ptr<int>& alive, F f) {
  return [alive = std::weak_ptr<int>(alive), f = std::move(f)](auto&&... args) mutable {
    if (alive.expired()) return;
    f(std::forward<decltype(args)>(args)...);
  };
}

}  // namespace gateway
