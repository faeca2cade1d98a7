// Peer-to-peer DMA (vfio.p2p): an assigned device's mapped BAR pieces in the VM's DMA space at
// the BAR's guest address, and the probe at start (assigned_device.h, docs/vfio.md).
#include "ferry/vfio/assigned_device.h"

#include <spdlog/spdlog.h>

#include "ferry/base/units.h"
#include "ferry/pci/config_regs.h"

namespace ferry::vfio {
namespace {

constexpr uint64_t kPage = 4096;

}  // namespace

void AssignedDevice::map_p2p(unsigned index, MappedPiece& piece, uint64_t iova) {
  if (auto mapped = p2p_->map_bar(iova, piece.host.size(), piece.host.data()); !mapped) {
    // The guest chose the address (over RAM, beyond the IOMMU's reach): its devices cannot DMA
    // to that piece; everything else goes on.
    spdlog::warn("{}: BAR {} at IOVA {:#x}-{:#x} stays out of peer-to-peer DMA: {}", bdf_, index,
                 iova, iova + piece.host.size() - 1, mapped.error().message());
    return;
  }
  piece.dma_at = iova;
}

void AssignedDevice::unmap_p2p(unsigned index, MappedPiece& piece) {
  if (auto unmapped = p2p_->unmap_bar(*piece.dma_at, piece.host.size()); !unmapped) {
    spdlog::warn("{}: BAR {}: {}", bdf_, index, unmapped.error().message());
  }
  piece.dma_at.reset();
}

uint64_t AssignedDevice::placed_address(unsigned index) {
  const uint16_t reg = pci::kBar0 + 4 * index;
  uint64_t address = config_read(reg, 4) & ~uint64_t{0xf};
  if (bar(index)->kind == pci::BarKind::kMemory64) {
    address |= uint64_t{config_read(reg + 4, 4)} << 32;
  }
  return address;
}

Expected<void> AssignedDevice::probe_p2p() {
  if (p2p_ == nullptr) return {};
  for (unsigned index = 0; index < pci::kBarCount; ++index) {
    if (pieces_[index].empty()) continue;
    const uint64_t at = placed_address(index);
    for (MappedPiece& piece : pieces_[index]) {
      // The first and the last page of the piece: what the kernel refuses (a BAR mmap on
      // iommufd, an IOVA beyond its ranges) it refuses there, and a multi-GiB BAR is not
      // mapped twice (a 16 GiB one took seconds in the lab).
      const uint64_t size = piece.host.size();
      for (const uint64_t offset : {uint64_t{0}, size - kPage}) {
        const uint64_t iova = at + piece.offset + offset;
        if (auto mapped = p2p_->map_bar(iova, kPage, piece.host.data() + offset); !mapped) {
          return fail(std::move(mapped).error().context(
              fmt::format("{}: BAR {} ({} at {:#x}) for peer-to-peer DMA (vfio.p2p)", bdf_, index,
                          format_size(device_->region(index).size), at)));
        }
        if (auto unmapped = p2p_->unmap_bar(iova, kPage); !unmapped) {
          return fail(std::move(unmapped).error().context(fmt::format("{}: BAR {}", bdf_, index)));
        }
        if (size == kPage) break;
      }
    }
  }
  return {};
}

}  // namespace ferry::vfio
