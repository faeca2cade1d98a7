// The line linux_boot_bench's init prints at once (shared by the C init and the C++ benchmark):
// "<marker> <seconds> s", seconds being the guest's CLOCK_BOOTTIME when init ran.
#pragma once

#define LINUX_BOOT_MARKER "ferry-linux-boot-bench: init at boottime"
