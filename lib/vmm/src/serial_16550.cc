#include "ferry/vmm/serial_16550.h"

namespace ferry::vmm {
namespace {

enum Register : uint64_t {
  kData = 0,
  kIer = 1,
  kIir = 2,
  kLcr = 3,
  kMcr = 4,
  kLsr = 5,
  kMsr = 6,
  kScr = 7
};

constexpr uint8_t kIerRxData = 0x01;
constexpr uint8_t kIerThrEmpty = 0x02;
constexpr uint8_t kIerLineStatus = 0x04;
constexpr uint8_t kIirNone = 0x01;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirFifoEnabled = 0xc0;
constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrOverrun = 0x02;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrTransmitterEmpty = 0x40;
constexpr uint8_t kMsrDcd = 0x80, kMsrRi = 0x40, kMsrDsr = 0x20, kMsrCts = 0x10;

}  // namespace

uint64_t Serial16550::read_register(uint64_t offset, unsigned size) {
  std::lock_guard lock(mutex_);
  uint64_t value = 0;
  // Wider accesses read consecutive registers, as the ISA bus would split them.
  for (unsigned i = 0; i < size && offset + i < kUartPorts; ++i) {
    value |= uint64_t{read_locked(offset + i)} << (8 * i);
  }
  update_irq();
  return value;
}

void Serial16550::write_register(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard lock(mutex_);
  for (unsigned i = 0; i < size && offset + i < kUartPorts; ++i) {
    write_locked(offset + i, static_cast<uint8_t>(value >> (8 * i)));
  }
  update_irq();
}

size_t Serial16550::receive_input(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  // In loopback the receiver hears only the transmitter, as on the chip.
  if (mcr_ & kMcrLoop) return 0;
  const unsigned capacity = (fcr_ & kFcrEnable) ? kRxFifoSize : 1;
  size_t taken = 0;
  while (taken < bytes.size() && rx_count_ < capacity) receive(bytes[taken++]);
  update_irq();
  return taken;
}

uint8_t Serial16550::read_locked(uint64_t offset) {
  const bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case kData:
      return dlab ? dll_ : take_received();
    case kIer:
      return dlab ? dlm_ : ier_;
    case kIir: {
      uint8_t id = interrupt_id();
      // Reading IIR acknowledges a THR-empty interrupt when that is what it reports.
      if (id == kIirThrEmpty) thr_empty_pending_ = false;
      return id | ((fcr_ & kFcrEnable) ? kIirFifoEnabled : 0);
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      const uint8_t lsr = kLsrThrEmpty | kLsrTransmitterEmpty | (overrun_ ? kLsrOverrun : 0) |
                          (rx_count_ == 0 ? 0 : kLsrDataReady);
      overrun_ = false;
      return lsr;
    }
    case kMsr:
      return modem_status();
    case kScr:
      return scr_;
    default:
      return 0xff;
  }
}

void Serial16550::write_locked(uint64_t offset, uint8_t value) {
  const bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case kData:
      if (dlab) {
        dll_ = value;
        return;
      }
      if (mcr_ & kMcrLoop) {
        receive(value);
      } else {
        output_.put(value);
      }
      // The byte leaves at once, so the holding register is empty again.
      thr_empty_pending_ = true;
      return;
    case kIer:
      if (dlab) {
        dlm_ = value;
        return;
      }
      // Enabling the THR-empty interrupt with an empty THR raises it at once.
      if ((value & kIerThrEmpty) && !(ier_ & kIerThrEmpty)) thr_empty_pending_ = true;
      ier_ = value & 0x0f;
      return;
    case kIir:
      // Turning the FIFOs on or off empties them, as does the receive-reset bit.
      if ((value ^ fcr_) & kFcrEnable || (value & kFcrClearRx)) clear_received();
      fcr_ = value;
      return;
    case kLcr:
      lcr_ = value;
      return;
    case kMcr:
      mcr_ = value & 0x1f;
      return;
    case kScr:
      scr_ = value;
      return;
    default:  // LSR and MSR are read-only
      return;
  }
}

void Serial16550::receive(uint8_t byte) {
  const bool fifo = fcr_ & kFcrEnable;
  const unsigned capacity = fifo ? kRxFifoSize : 1;
  if (rx_count_ < capacity) {
    rx_[(rx_head_ + rx_count_++) % kRxFifoSize] = byte;
    return;
  }
  overrun_ = true;
  // A 16550 drops the new byte and keeps its FIFO; an 8250 overwrites its holding register.
  if (!fifo) rx_[rx_head_] = byte;
}

uint8_t Serial16550::take_received() {
  if (rx_count_ == 0) return 0;
  const uint8_t byte = rx_[rx_head_];
  rx_head_ = (rx_head_ + 1) % kRxFifoSize;
  --rx_count_;
  return byte;
}

uint8_t Serial16550::interrupt_id() const {
  if ((ier_ & kIerLineStatus) && overrun_) return kIirLineStatus;
  if ((ier_ & kIerRxData) && rx_count_ != 0) return kIirRxData;
  if ((ier_ & kIerThrEmpty) && thr_empty_pending_) return kIirThrEmpty;
  return kIirNone;
}

uint8_t Serial16550::modem_status() const {
  if (mcr_ & kMcrLoop) {
    // Loopback mirrors DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD; drivers probe for this.
    return static_cast<uint8_t>(((mcr_ & 0x01) ? kMsrDsr : 0) | ((mcr_ & 0x02) ? kMsrCts : 0) |
                                ((mcr_ & 0x04) ? kMsrRi : 0) | ((mcr_ & 0x08) ? kMsrDcd : 0));
  }
  return kMsrDcd | kMsrDsr | kMsrCts;
}

void Serial16550::update_irq() {
  // On a PC the UART's interrupt output is gated by OUT2.
  const bool level = interrupt_id() != kIirNone && (mcr_ & kMcrOut2);
  if (level == irq_level_ || irq_ == nullptr) return;
  irq_level_ = level;
  irq_->set_level(level);
}

}  // namespace ferry::vmm
