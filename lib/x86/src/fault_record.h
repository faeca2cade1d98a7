// Where an instruction's fault is kept while the error it travels as unwinds to Emulator.
#pragma once

#include <optional>
#include <string>

#include "ferry/base/error.h"
#include "ferry/x86/fault.h"

namespace ferry::x86 {

class FaultRecord {
 public:
  /// Records the fault and returns the error that carries it up through FERRY_TRY.
  Error raise(Vector vector, std::optional<uint32_t> error_code, std::string reason,
              uint64_t cr2 = 0) {
    fault_ = Fault{vector, error_code, cr2, std::move(reason)};
    return Error(Errc::kGuestFault, describe(*fault_));
  }
  const std::optional<Fault>& fault() const { return fault_; }

 private:
  std::optional<Fault> fault_;
};

}  // namespace ferry::x86
