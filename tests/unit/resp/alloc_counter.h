// SPDX-License-Identifier: Apache-2.0
//
// Counts heap allocations made by the current thread, for tests that prove a code path does
// not allocate (integer formatting) or allocates once, up front (bulk storage).
//
// The resp_unit_tests binary replaces the global operator new/delete (defined in
// request_parser_test.cc) so that every allocation is seen, sanitizer builds included. This is
// why the counter lives here and not in tests/support: other test binaries keep the normal
// allocator.
#pragma once

#include <cstddef>

namespace resp_test {

struct AllocationStats {
  size_t count = 0;    // operator new calls
  size_t largest = 0;  // biggest single request in bytes
};

// Counts this thread's allocations between construction and stats().
class ScopedAllocationCounter {
 public:
  ScopedAllocationCounter();
  ~ScopedAllocationCounter();
  ScopedAllocationCounter(const ScopedAllocationCounter&) = delete;
  ScopedAllocationCounter& operator=(const ScopedAllocationCounter&) = delete;

  AllocationStats stats() const;
};

}  // namespace resp_test
