#!/usr/bin/env python3
# Writes the hand-made seeds of the device model fuzzer (device_model_fuzzer.cc) into the given
# directory: python3 test/fuzz/device_model_seeds.py test/fuzz/corpus/device_model
# Target numbers follow Platform::build (the fixed windows, then each BAR of each endpoint).
import struct, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
IOAPIC, COM1, EXIT, CF8, ECAM0, ECAM, TESTDEV = range(7)
T1_BAR0, T1_IO, T1_MSIX, T1_ROM, NVME_BAR0, T2_BAR0, T2_IO, T2_MSIX, T2_ROM = range(7, 16)
RAW_MMIO, RAW_PIO, FIRE, PIN, EOI = range(16, 21)
W = {1: 0, 2: 1, 4: 2, 8: 3, 3: 4, 5: 5, 16: 6}
def op(target, off, width=4, value=None, repeat=None):
    control = W[width] | (8 if value is not None else 0) | (16 if repeat is not None else 0)
    b = bytes([target, control])
    if repeat is not None: b += bytes([repeat])
    b += struct.pack('<I', (off + 8) & 0xffffffff if target < 16 else off)
    if value is not None: b += value.to_bytes(width, 'little')
    return b
def rd(t, off, width=4): return op(t, off, width)
def wr(t, off, value, width=4, repeat=None): return op(t, off, width, value, repeat)
def cfg(slot, reg): return 0x80000000 | slot << 11 | (reg & 0xfc)
def cf8_write(slot, reg, value, width=4):
    return wr(CF8, 0, cfg(slot, reg)) + wr(CF8, 4 + (reg & 3), value, width)
def cf8_read(slot, reg, width=4):
    return wr(CF8, 0, cfg(slot, reg)) + rd(CF8, 4 + (reg & 3), width)
def ecam(slot, reg): return slot << 15 | reg
seeds = {}
# CF8/CFC: walk slot 0-3 ids, size pci-test BAR0, move it, enable decoding and MSI-X, program
# entry 0, ring the doorbell, read the PBA and the counters.
s = b''.join(cf8_read(slot, 0) for slot in range(4))
s += cf8_write(1, 0x10, 0xffffffff) + cf8_read(1, 0x10) + cf8_write(1, 0x10, 0xc1000000)
s += cf8_write(1, 0x18, 0xffffffff) + cf8_read(1, 0x18) + cf8_read(1, 0x1c)
s += cf8_write(1, 0x04, 0x0007, 2) + cf8_read(1, 0x34, 1) + cf8_read(1, 0x40)
s += cf8_write(1, 0x42, 0xc000, 2)
s += wr(T1_MSIX, 0, 0xfee00000) + wr(T1_MSIX, 4, 0) + wr(T1_MSIX, 8, 0x31) + wr(T1_MSIX, 12, 0)
s += cf8_write(1, 0x42, 0x8000, 2)
s += wr(T1_BAR0, 4, 0) + wr(T1_BAR0, 4, 1) + rd(T1_BAR0, 8) + rd(T1_BAR0, 12)
s += rd(T1_MSIX, 0x2000, 8) + rd(T1_MSIX, 0, 8) + wr(T1_BAR0, 0x10, 0x12345678) + rd(T1_IO, 0)
seeds['cf8-walk-size-bar-msix'] = s
# ECAM: the assigned NVMe. Memory and bus master on, MSI-X enabled masked, entry 0 and 1 written
# and unmasked, the device fires both, the PBA read; the device's own PM registers read through.
s = rd(ECAM0, ecam(2, 0)) + rd(ECAM0, ecam(2, 0x10)) + rd(ECAM0, ecam(2, 0x14))
s += wr(ECAM0, ecam(2, 0x04), 0x0006, 2) + wr(ECAM0, ecam(2, 0x42), 0xc000, 2)
for v in range(2):
    s += wr(NVME_BAR0, 0x2000 + 16 * v, 0xfee00000 | v << 12, 8) + wr(NVME_BAR0, 0x2008 + 16 * v, 0x40 + v)
    s += wr(NVME_BAR0, 0x200c + 16 * v, 0)
s += wr(ECAM0, ecam(2, 0x42), 0x8000, 2) + op(FIRE, 0) + op(FIRE, 1) + rd(NVME_BAR0, 0x3000, 8)
s += wr(NVME_BAR0, 0x200c, 1) + op(FIRE, 0) + rd(NVME_BAR0, 0x3000, 8) + rd(ECAM0, ecam(2, 0x60))
s += rd(ECAM0, ecam(2, 0x64)) + rd(NVME_BAR0, 0x0, 8) + wr(NVME_BAR0, 0x14, 1) + rd(ECAM0, ecam(2, 0x100))
seeds['ecam-nvme-msix'] = s
# IOAPIC: pin 4 (COM1) level-triggered to vector 0x30, asserted, EOI, masked again; version read.
s = wr(IOAPIC, 0, 0x01) + rd(IOAPIC, 0x10) + wr(IOAPIC, 0, 0x18) + wr(IOAPIC, 0x10, 0x8030)
s += wr(IOAPIC, 0, 0x19) + wr(IOAPIC, 0x10, 0) + op(PIN, 4 | 1 << 8) + wr(IOAPIC, 0, 0x18) + rd(IOAPIC, 0x10)
s += op(EOI, 0x30) + op(PIN, 4) + wr(IOAPIC, 0x40, 0x30) + wr(IOAPIC, 0x10, 0x18030)
seeds['ioapic-level-pin'] = s
# 16550: loopback with OUT2 and every interrupt, FIFOs on, a burst of 32 bytes into a 16-byte FIFO.
s = wr(COM1, 3, 0x80, 1) + wr(COM1, 0, 1, 1) + wr(COM1, 3, 0x03, 1) + wr(COM1, 4, 0x18, 1)
s += wr(COM1, 1, 0x07, 1) + wr(COM1, 2, 0x01, 1) + wr(COM1, 0, 0x41, 1, repeat=31)
s += rd(COM1, 5, 1) + rd(COM1, 2, 1) + rd(COM1, 0, 1) + rd(COM1, 0, 4) + rd(COM1, 6, 1) + wr(COM1, 2, 0x03, 1)
seeds['serial-loopback-overrun'] = s
# Test device: scratch at every width, an MSI programmed and sent, then the exit port.
s = rd(TESTDEV, 0) + wr(TESTDEV, 0x100, 0x1122334455667788, 8) + rd(TESTDEV, 0x103, 2) + rd(TESTDEV, 0x1fe, 4)
s += wr(TESTDEV, 0x20, 0xfee00000) + wr(TESTDEV, 0x28, 0x41) + wr(TESTDEV, 0x2c, 1) + rd(TESTDEV, 0x30)
s += wr(TESTDEV, 0x20, 0xfee01000) + wr(TESTDEV, 0x2c, 1) + wr(EXIT, 0, 3, 1)
seeds['testdev-msi-exit'] = s
# The second pci-test: I/O and ROM decoding on, the ROM read, BAR0 moved onto the first's (dark).
s = cf8_write(3, 0x30, 0xc2000001) + cf8_write(3, 0x04, 0x0003, 2) + rd(T2_ROM, 0, 4) + rd(T2_IO, 0)
s += cf8_write(3, 0x14, 0xffffffff) + cf8_read(3, 0x14) + cf8_write(1, 0x04, 0x0002, 2)
s += cf8_read(1, 0x10) + cf8_write(3, 0x10, 0xc0000000) + rd(T2_BAR0, 0) + rd(RAW_MMIO, 0, 4)
seeds['pci-test-rom-io-overlap'] = s
for name, b in seeds.items():
    open(os.path.join(out, name), 'wb').write(b)
    print(name, len(b))
