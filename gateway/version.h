// SPDX-License-Identifier: Apache-2.0
//
// Versions the gateway reports. It reports the Redis version whose behaviour it matches
// (INFO redis_version, HELLO), as clients pick features by it.
#pragma once

#include <string_view>

namespace gateway {

inline constexpr std::string_view kRedisVersion = "7.0.15";
inline constexpr std::string_view kGatewayVersion = "0.1.0";

}  // namespace gateway
