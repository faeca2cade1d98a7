// A 16550A UART (8 I/O ports) whose transmitter is always ready. Enough of the chip for polled
// consoles and Linux's 8250 driver: divisor latch, FIFO control, THR-empty and line-status
// interrupts gated by OUT2, loopback and the modem-status mirror used for chip detection.
// Received bytes (the host console's input, or the guest's own in loopback) go into a 16-byte
// FIFO (one byte with FIFOs off) that raises the received-data interrupt. Loopback overruns as
// the chip does; host input waits for room instead, so a paste loses nothing and a guest cannot
// grow ferry's memory through it.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>

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

  /// Puts the host console's bytes into the receive FIFO, as many as fit (none while the guest
  /// loops back), raises the interrupt, and returns how many it took: the caller keeps the rest.
  size_t receive_input(std::span<const uint8_t> bytes);

 private:
  uint8_t read_locked(uint64_t offset);
  void write_locked(uint64_t offset, uint8_t value);
  uint8_t interrupt_id() const;
  uint8_t modem_status() const;
  void update_irq();
  void receive(uint8_t byte);
  uint8_t take_received();
  void clear_received() { rx_count_ = 0; }

  std::mutex mutex_;  // vCPUs may race on the ports
  SerialOutput output_;
  irq::IrqLine* irq_;
  static constexpr unsigned kRxFifoSize = 16;
  std::array<uint8_t, kRxFifoSize> rx_{};  // loopback data, a ring from rx_head_
  unsigned rx_head_ = 0, rx_count_ = 0;
  bool overrun_ = false;  // LSR.OE: a byte arrived with the receiver full; cleared by reading LSR
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0;
  uint8_t dll_ = 0x0c, dlm_ = 0;    // 9600 baud
  bool thr_empty_pending_ = false;  // THRE interrupt raised and not yet acknowledged
  bool irq_level_ = false;
};

}  // namespace ferry::vmm
