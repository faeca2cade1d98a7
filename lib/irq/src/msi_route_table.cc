#include "ferry/irq/msi_route_table.h"

#include <vector>

namespace ferry::irq {

Expected<uint32_t> MsiRouteTable::allocate() {
  std::lock_guard lock(mutex_);
  uint32_t gsi = kFirstMsiGsi;
  for (auto it = gsis_.lower_bound(kFirstMsiGsi); it != gsis_.end() && it->first == gsi; ++it) {
    ++gsi;
  }
  if (gsi >= kGsiLimit) {
    return fail(Errc::kNoResources, "all {} MSI GSIs are in use", kGsiLimit - kFirstMsiGsi);
  }
  gsis_.emplace(gsi, std::nullopt);
  return gsi;
}

Expected<void> MsiRouteTable::claim(uint32_t gsi) {
  if (gsi >= kFirstMsiGsi) {
    return fail(Errc::kInvalidArgument, "GSI {} is not a pin GSI (0-{})", gsi, kFirstMsiGsi - 1);
  }
  std::lock_guard lock(mutex_);
  if (!gsis_.emplace(gsi, std::nullopt).second) {
    return fail(Errc::kExists, "GSI {} is already claimed", gsi);
  }
  return {};
}

Expected<void> MsiRouteTable::set_route(uint32_t gsi, uint64_t address, uint32_t data) {
  std::lock_guard lock(mutex_);
  auto it = gsis_.find(gsi);
  if (it == gsis_.end()) return fail(Errc::kNotFound, "GSI {} was not allocated", gsi);
  accel::MsiRoute route{gsi, address, data};
  if (it->second && it->second->address == address && it->second->data == data) return {};
  std::optional<accel::MsiRoute> previous = it->second;
  it->second = route;
  auto committed = commit();
  if (!committed) it->second = previous;  // the table in the hypervisor is still the old one
  return committed;
}

Expected<void> MsiRouteTable::release(uint32_t gsi) {
  std::lock_guard lock(mutex_);
  auto it = gsis_.find(gsi);
  if (it == gsis_.end()) return fail(Errc::kNotFound, "GSI {} was not allocated", gsi);
  bool had_route = it->second.has_value();
  gsis_.erase(it);
  return had_route ? commit() : Expected<void>{};
}

Expected<void> MsiRouteTable::commit() {
  std::vector<accel::MsiRoute> routes;
  for (const auto& [gsi, route] : gsis_) {
    if (route) routes.push_back(*route);
  }
  return vm_.set_msi_routes(routes);
}

}  // namespace ferry::irq
