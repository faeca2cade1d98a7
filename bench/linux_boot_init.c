// PID 1 of linux_boot_bench's guest: prints one marker line with the guest kernel's own clock
// (CLOCK_BOOTTIME, which /proc/uptime shows) the moment it runs, then powers off through ACPI
// (ferry ends with status 0, QEMU exits). Static, so the initramfs needs nothing else.
// With `dmesg` on the kernel command line (the kernel passes it on as an argument) it prints
// the kernel's log after the marker, to see where the kernel's own time went (e.g. with
// initcall_debug), without the console's cost inside the timed part.
#include <stdio.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#include "linux_boot_marker.h"

static char kernel_log[1 << 20];

int main(int argc, char** argv) {
  struct timespec boottime;
  clock_gettime(CLOCK_BOOTTIME, &boottime);
  char line[128];
  const int length = snprintf(line, sizeof line, LINUX_BOOT_MARKER " %lld.%09ld s\n",
                              (long long)boottime.tv_sec, boottime.tv_nsec);
  if (write(1, line, (size_t)length) != length) {
    // No console on fd 1 (no /dev/console in the archive): nothing to tell, so end at once.
  }
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "dmesg") != 0) continue;
    const int size = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, kernel_log, sizeof kernel_log);
    for (int done = 0; size > 0 && done < size;) {
      const ssize_t n = write(1, kernel_log + done, (size_t)(size - done));
      if (n <= 0) break;
      done += (int)n;
    }
  }
  reboot(RB_POWER_OFF);
  for (;;) pause();  // PID 1 must not exit (the kernel would panic) while the power goes
}
