// A type-0 function: its configuration header, BARs and ROM. BAR registers follow the sizing
// protocol through their masks (all ones reads back the size), and the command register's
// decode bits put each BAR on the guest's MMIO or port bus at the address it holds, or take it
// off. A BAR decodes only inside the host bridge's windows: anywhere else the bridge would not
// forward the access, and the platform devices there stay out of the guest's reach.
//
// Locks: the config lock is taken before the buses' writer locks and before the locks of
// whatever a derived device reaches from config_written().
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ferry/bus/bus.h"
#include "ferry/pci/address_window.h"
#include "ferry/pci/bar.h"
#include "ferry/pci/config_regs.h"
#include "ferry/pci/config_space.h"
#include "ferry/pci/pci_function.h"

namespace ferry::pci {

struct FunctionIdentity {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint32_t class_code = 0;  // class << 16 | subclass << 8 | programming interface
  uint8_t revision = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
};

// Where BARs decode: the guest's buses and the windows the host bridge forwards to them.
struct BarSpaces {
  bus::Bus& mmio;
  bus::Bus& pio;
  BridgeWindows windows;
};

class Endpoint : public PciFunction, public std::enable_shared_from_this<Endpoint> {
 public:
  uint32_t config_read(uint16_t offset, unsigned size) final;
  void config_write(uint16_t offset, unsigned size, uint32_t value) final;

  const std::string& name() const { return name_; }
  /// BAR `index` (0-5, or kRomIndex for the ROM, a 32-bit memory decoder); nothing for an
  /// unused index or the upper half of a 64-bit BAR.
  std::optional<BarSpec> bar(unsigned index) const;
  /// Where BAR `index` is decoding on its bus now, if it is.
  std::optional<uint64_t> bar_mapping(unsigned index) const;
  /// Whether the guest let the function master the bus (send MSIs); lock-free.
  bool bus_master_enabled() const noexcept;

 protected:
  /// The function must be owned by a shared_ptr before the guest enables decoding.
  Endpoint(std::string name, const FunctionIdentity& identity, BarSpaces spaces);

  // Setup, before the function is on a bus.
  Expected<void> add_bar(unsigned index, const BarSpec& spec);
  /// An expansion ROM holding `image`, padded with zeros to a power of two of at least 2 KiB.
  Expected<void> set_rom(std::vector<uint8_t> image);
  /// Setup; and from config_written(), which runs with the config lock held.
  ConfigSpace& config() { return config_; }

  /// Guest access `offset` bytes into BAR `index` (0-5); runs without the config lock.
  virtual void bar_read(unsigned index, uint64_t offset, std::span<uint8_t> data) noexcept = 0;
  virtual void bar_write(unsigned index, uint64_t offset,
                         std::span<const uint8_t> data) noexcept = 0;
  /// After a guest write to [offset, offset+size) took effect; the config lock is held.
  virtual void config_written(uint16_t offset, unsigned size);

  // For a function that fronts hardware (an assigned device); each runs with the config lock.
  /// What a guest read returns, given what the model holds (`emulated`); by default that.
  virtual uint32_t config_read_through(uint16_t offset, unsigned size, uint32_t emulated);
  /// Sees a guest write before the model takes it (hardware first); by default nothing.
  virtual void config_write_through(uint16_t offset, unsigned size, uint32_t value);
  /// BAR `index` (not the ROM) stopped decoding at `from` and/or started at `to`.
  virtual void bar_moved(unsigned index, std::optional<uint64_t> from, std::optional<uint64_t> to);

 private:
  class Region;  // puts one BAR on a bus

  struct Decoder {
    std::optional<BarSpec> spec;
    bool upper_half = false;  // the high dword of the 64-bit BAR below
    std::optional<uint64_t> mapped_at;
  };

  void allow_decode_bits();  // setup

  // With the config lock held.
  uint64_t programmed_address(unsigned index) const;
  std::optional<uint64_t> wanted_mapping(unsigned index) const;
  void update_decoders();
  void update_decoders_once();

  // Guest access through a Region: the ROM is served here, BARs by the derived device.
  void region_read(unsigned index, uint64_t offset, std::span<uint8_t> data) noexcept;
  void region_write(unsigned index, uint64_t offset, std::span<const uint8_t> data) noexcept;

  const std::string name_;
  BarSpaces spaces_;
  mutable std::mutex mutex_;  // the config lock: guards config_ and decoders_
  ConfigSpace config_;
  std::array<Decoder, kBarCount + 1> decoders_;
  std::vector<uint8_t> rom_;  // immutable once set up
  std::atomic<uint16_t> command_{0};
};

}  // namespace ferry::pci
