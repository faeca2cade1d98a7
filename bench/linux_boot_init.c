// PID 1 of linux_boot_bench's guest: prints one marker line with the guest kernel's own clock
// (CLOCK_BOOTTIME, which /proc/uptime shows) the moment it runs, then powers off through ACPI
// (ferry ends with status 0, QEMU exits). Static, so the initramfs needs nothing else.
#include <stdio.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#include "linux_boot_marker.h"

int main(void) {
  struct timespec boottime;
  clock_gettime(CLOCK_BOOTTIME, &boottime);
  char line[128];
  const int length = snprintf(line, sizeof line, LINUX_BOOT_MARKER " %lld.%09ld s\n",
                              (long long)boottime.tv_sec, boottime.tv_nsec);
  if (write(1, line, (size_t)length) != length) {
    // No console on fd 1 (no /dev/console in the archive): nothing to tell, so end at once.
  }
  reboot(RB_POWER_OFF);
  for (;;) pause();  // PID 1 must not exit (the kernel would panic) while the power goes
}
