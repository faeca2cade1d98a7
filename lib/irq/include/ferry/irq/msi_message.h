// Which MSI messages ferry hands to the hypervisor. A message is an interrupt only when its
// address is in the local APICs' window (0xfee00000-0xfeefffff, upper half zero: ferry enables no
// x2APIC address format); KVM otherwise takes the destination from bits 19:12 of any address and
// delivers a stray write as an interrupt (seen: address 0 delivered to APIC 0). Of the delivery
// modes ferry routes fixed and lowest priority with vectors 16-255 (a local APIC refuses 0-15 as
// illegal vectors, Intel SDM 11.5.3), NMI and INIT; SMI (ferry has no SMM firmware; seen: nested
// KVM failing KVM_RUN with EIO, the VM dead), ExtINT (no 8259 PIC) and the two reserved modes are
// refused. A refused message is never routed: a device that raises it sends nothing
// (MsiVector::Signal::kDropped). docs/hostile.md.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::irq {

/// Whether the message may be routed; else `why` (when given) says what is wrong with it.
bool msi_deliverable(uint64_t address, uint32_t data, std::string* why = nullptr);

}  // namespace ferry::irq
