#include "ferry/irq/msi_batch.h"

#include <spdlog/spdlog.h>

#include "ferry/irq/msi_vector.h"

namespace ferry::irq {

MsiBatch::~MsiBatch() { (void)commit(); }

void MsiBatch::add(MsiVector& vector) {
  if (vector.in_batch_) return;
  vector.in_batch_ = true;
  vectors_.push_back(&vector);
}

Expected<void> MsiBatch::commit() {
  Expected<void> result;
  auto note = [&](Expected<void> step) {
    if (step) return;
    spdlog::warn("MSI routing: {}", step.error().message());
    if (result) result = std::move(step);
  };
  accel::Vm& vm = table_.vm();
  for (MsiVector* v : vectors_) note(v->take_down_if_changed(vm));
  for (MsiVector* v : vectors_) note(v->stage_route());
  for (Step step : table_.ordering().activation) {
    switch (step) {
      case Step::kAttachTrigger:
        for (MsiVector* v : vectors_) note(v->attach_trigger());
        break;
      case Step::kCommitRoutes:
        note(table_.commit());
        break;
      case Step::kAssignIrqfd:
        for (MsiVector* v : vectors_) note(v->assign_irqfd(vm));
        break;
    }
  }
  for (MsiVector* v : vectors_) {
    v->send_pending();
    v->in_batch_ = false;
  }
  vectors_.clear();
  return result;
}

}  // namespace ferry::irq
