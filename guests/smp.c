/* smp: every vCPU checks in with its index, checks that CPUID reports its APIC ID as that
 * index, and vCPU 0 waits for all of them, then exits with the number that checked in. */
#include "rt/guest.h"

static volatile uint32_t checked_in;
static volatile uint32_t console_lock;

static void lock(void) {
  while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE)) cpu_relax();
}
static void unlock(void) { __atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE); }

static uint32_t cpuid_apic_id(void) {
  uint32_t eax = 1, ebx, ecx = 0, edx;
  __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return ebx >> 24;
}

int guest_main(uint32_t index, uint32_t count) {
  uint32_t apic_id = cpuid_apic_id();
  lock();
  puts_serial("vCPU ");
  put_dec(index);
  puts_serial(" up, APIC ID ");
  put_dec(apic_id);
  puts_serial("\n");
  unlock();
  if (apic_id != index) guest_exit(200);
  __atomic_add_fetch(&checked_in, 1, __ATOMIC_SEQ_CST);
  if (index != 0) {
    for (;;) __asm__ volatile("cli; hlt");
  }
  if (!wait_until(&checked_in, count)) guest_exit(201);
  lock();
  puts_serial("all ");
  put_dec(count);
  puts_serial(" vCPUs checked in\n");
  unlock();
  return (int)count;
}
