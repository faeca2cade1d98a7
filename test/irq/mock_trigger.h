// A StrictMock-able device-side trigger (VFIO_DEVICE_SET_IRQS for one vector), so tests can put
// the device's step in the same InSequence as the hypervisor's.
#pragma once

#include <gmock/gmock.h>

#include "ferry/irq/vector_trigger.h"

namespace ferry::test {

class MockTrigger : public irq::VectorTrigger {
 public:
  MOCK_METHOD(Expected<void>, attach, (int), (override));
  MOCK_METHOD(Expected<void>, detach, (), (override));
};

}  // namespace ferry::test
