#include "ferry/irq/msi_route_table.h"

#include <vector>

namespace ferry::irq {
namespace {

bool same(const accel::MsiRoute& a, const accel::MsiRoute& b) {
  return a.gsi == b.gsi && a.address == b.address && a.data == b.data;
}

}  // namespace

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

Expected<void> MsiRouteTable::stage(uint32_t gsi, uint64_t address, uint32_t data) {
  std::lock_guard lock(mutex_);
  auto it = gsis_.find(gsi);
  if (it == gsis_.end()) return fail(Errc::kNotFound, "GSI {} was not allocated", gsi);
  const accel::MsiRoute route{gsi, address, data};
  if (it->second && same(*it->second, route)) return {};
  it->second = route;
  dirty_ = true;
  return {};
}

void MsiRouteTable::unstage(uint32_t gsi) {
  std::lock_guard lock(mutex_);
  auto it = gsis_.find(gsi);
  if (it == gsis_.end() || !it->second) return;
  it->second.reset();
  dirty_ = true;
}

void MsiRouteTable::release(uint32_t gsi) {
  std::lock_guard lock(mutex_);
  auto it = gsis_.find(gsi);
  if (it == gsis_.end()) return;
  if (it->second) dirty_ = true;
  gsis_.erase(it);
}

Expected<void> MsiRouteTable::commit() {
  std::lock_guard lock(mutex_);
  if (!dirty_) return {};
  std::vector<accel::MsiRoute> routes;
  for (const auto& [gsi, route] : gsis_) {
    if (route) routes.push_back(*route);
  }
  ++stats_.commits;
  stats_.entries_pushed += routes.size();
  if (auto pushed = vm_.set_msi_routes(routes); !pushed) {
    // The hypervisor still has committed_: what was added or changed goes back to that.
    for (auto& [gsi, route] : gsis_) {
      auto in_force = committed_.find(gsi);
      if (!route || (in_force != committed_.end() && same(in_force->second, *route))) continue;
      route = in_force == committed_.end() ? std::nullopt
                                           : std::optional<accel::MsiRoute>(in_force->second);
    }
    dirty_ = !matches_committed();
    return pushed;
  }
  committed_.clear();
  for (const accel::MsiRoute& route : routes) committed_.emplace(route.gsi, route);
  dirty_ = false;
  return {};
}

bool MsiRouteTable::matches_committed() const {
  size_t routed = 0;
  for (const auto& [gsi, route] : gsis_) {
    if (!route) continue;
    ++routed;
    auto in_force = committed_.find(gsi);
    if (in_force == committed_.end() || !same(in_force->second, *route)) return false;
  }
  return routed == committed_.size();
}

bool MsiRouteTable::committed(uint32_t gsi, uint64_t address, uint32_t data) const {
  std::lock_guard lock(mutex_);
  auto it = committed_.find(gsi);
  return it != committed_.end() && same(it->second, {gsi, address, data});
}

MsiRouteTable::Stats MsiRouteTable::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace ferry::irq
