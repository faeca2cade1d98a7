/* Numbered checks for guests that prove a list of things: CHECK(code, condition, what) returns
 * failed(code, what) from the function it is in, and each guest writes failed() with
 * print_failed_check() and what else it has to say. */
#ifndef FERRY_CHECKS_H
#define FERRY_CHECKS_H

#include "rt/guest.h"

#define CHECK(code, condition, what)             \
  do {                                           \
    if (!(condition)) return failed(code, what); \
  } while (0)

/* The case a check was at (a guest's own encoding), printed when one fails. */
static uint32_t failed_detail;

/* "<guest>: FAILED check <code>: <what> (case <failed_detail>": the caller closes the line. */
static UNUSED void print_failed_check(const char* guest, int code, const char* what) {
  puts_serial(guest);
  puts_serial(": FAILED check ");
  put_dec((uint32_t)code);
  puts_serial(": ");
  puts_serial(what);
  puts_serial(" (case ");
  put_hex(failed_detail);
}

#endif
