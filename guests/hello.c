/* hello: greets over the serial port and exits with status 0. Built three times from this
 * source: real mode (hello16), flat protected mode (hello32) and long mode (hello, ELF64). */
#include "rt/guest.h"

int guest_main(uint32_t index, uint32_t count) {
#if defined(__x86_64__)
  const char* mode = "64-bit long mode";
#elif defined(FERRY_REAL_MODE)
  const char* mode = "16-bit real mode";
#else
  const char* mode = "32-bit protected mode";
#endif
  puts_serial("Hello from a ferry guest in ");
  puts_serial(mode);
  puts_serial(" on vCPU ");
  put_dec(index);
  puts_serial(" of ");
  put_dec(count);
  puts_serial(".\n");
  return 0;
}
