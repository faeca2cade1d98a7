// One burst of MSI vector changes (a guest's MSI-X table write, an MSI-X enable), committed to
// the hypervisor together: every irqfd that must go is deassigned first, then the activation
// steps run in the accelerator's order (ordering.h) for all vectors at once, with one routing
// commit, then what was pending on vectors now live is sent. The owner closes the batch with
// commit(); the destructor commits what is left.
#pragma once

#include <vector>

#include "ferry/base/error.h"
#include "ferry/irq/msi_route_table.h"

namespace ferry::irq {

class MsiVector;

class MsiBatch {
 public:
  explicit MsiBatch(MsiRouteTable& table) : table_(table) {}
  ~MsiBatch();
  MsiBatch(const MsiBatch&) = delete;
  MsiBatch& operator=(const MsiBatch&) = delete;

  /// Applies the staged changes. The first failure is returned (and logged); the other vectors
  /// still go ahead, and a vector that could not go live keeps its pending bit.
  Expected<void> commit();

 private:
  friend class MsiVector;
  void add(MsiVector& vector);

  MsiRouteTable& table_;
  std::vector<MsiVector*> vectors_;
};

}  // namespace ferry::irq
