// The limit ferry is measured against: the least a program can do to run the exitloop guest on
// KVM (one memory slot pair, one vCPU, no irqchip, an exit switch that only counts). A variant
// adds the in-kernel local APIC ferry always has (split irqchip), to tell the kernel's share of
// ferry's cost from ferry's own.
#pragma once

#include <cstdint>
#include <span>

namespace ferry::bench {

/// Runs the 64 KiB real-mode image at 0xf0000 until it writes the exit port; prints the marker
/// byte it writes to COM1 on stdout and, at the end, its exit counts on stderr in the form of
/// `ferry run --stats` ({"exits":E,"pio":P,"mmio":M}). Returns the byte written to the exit port,
/// or -1 on error.
int run_raw_kvm_loop(std::span<const uint8_t> image, bool in_kernel_lapic);

}  // namespace ferry::bench
