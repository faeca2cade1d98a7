// A 16550A UART (8 I/O ports) whose transmitter is always ready. Enough of the chip for polled
// consoles and Linux's 8250 driver: divisor latch, FIFO control, THR-empty and line-status
// interrupts gated by OUT2, loopback and the modem-status mirror used for chip detection.
// Receive is loopback only for now (no host input).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>

#include "ferry/bus/bus_device.h"
#include "ferry/irq/irq_line.h"
#include "ferry/vmm/serial_output.h"

namespace ferry::vmm {

constexpr uint16_t kCom1Port = 0x3f8;
constexpr uint32_t kCom1Irq = 4;
constexpr uint64_t kUartPorts = 8;

class Serial16550 final : public bus::RegisterDevice<Serial16550> {
 public:
  Serial16550(SerialOutput output, irq::IrqLine* irq) : output_(std::move(output)), irq_(irq) {}

  uint64_t read_register(uint64_t offset, unsigned size);
  void write_register(uint64_t offset, unsigned size, uint64_t value);

 private:
  uint8_t read_locked(uint64_t offset);
  void write_locked(uint64_t offset, uint8_t value);
  uint8_t interrupt_id() const;
  uint8_t modem_status() const;
  void update_irq();

  std::mutex mutex_;  // vCPUs may race on the ports
  SerialOutput output_;
  irq::IrqLine* irq_;
  std::deque<uint8_t> rx_;  // loopback data
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0;
  uint8_t dll_ = 0x0c, dlm_ = 0;    // 9600 baud
  bool thr_empty_pending_ = false;  // THRE interrupt raised and not yet acknowledged
  bool irq_level_ = false;
};

}  // namespace ferry::vmm
