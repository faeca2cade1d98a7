/* nvme-dma-escape: a hostile guest. It drives its assigned NVMe controller with nvme-check's
 * driver (guests/nvme.c, included below for its driver part) and then points the controller's
 * DMA at addresses outside the guest's RAM, one case at a time: data pointers (PRP1, PRP2, a PRP
 * list entry), a PRP list itself, and the bases of an I/O submission queue, an I/O completion
 * queue and the admin submission queue. Each case prints what the controller answered; after
 * each the guest reads LBA 0 into its RAM and checks the nonce, resetting the controller first
 * when it stopped. ferry maps only guest RAM into the IOMMU, so none of these DMAs may reach
 * memory: the host test (test/vfio/nvme_dma_escape_test.cc) checks the disk and the lab kernel's
 * IOMMU faults. The contract with it is ferry/guests/nvmeescape.h.
 */
#define FERRY_NVME_DRIVER_ONLY
#include "nvme.c"

#include "ferry/guests/nvmeescape.h"

/* An I/O queue pair 2 for the queue cases: one of its two queues lies outside RAM. */
static uint32_t io2_sq_mem[PAGE / 4] __attribute__((aligned(PAGE)));
static uint32_t io2_cq_mem[PAGE / 4] __attribute__((aligned(PAGE)));

#define OUTCOME_NO_COMPLETION (-1)
#define OUTCOME_FATAL (-2)

static uint64_t nonce_;
static uint32_t cases_;

static void put_outcome(int32_t outcome) {
  if (outcome == OUTCOME_FATAL) {
    puts_serial("controller fatal status (CSTS.CFS)");
  } else if (outcome == OUTCOME_NO_COMPLETION) {
    puts_serial("no completion within " COMMAND_TIMEOUT_TEXT);
  } else {
    puts_serial("completed, status ");
    put_hex64((uint32_t)outcome); /* SCT in bits 10:8, SC in 7:0: 0x4 is Data Transfer Error */
  }
}

/* Waits for the completion of `cid` on queue `q`, or for the controller to fail or time out.
 * Interrupts stay on (the I/O queue's MSI-X vector is only counted here). */
static int32_t wait_outcome(struct queue* q, uint16_t cid) {
  const uint64_t start = rdtsc();
  int32_t outcome = OUTCOME_NO_COMPLETION;
  for (;;) {
    __asm__ volatile("cli" ::: "memory");
    if (completion_ready(q)) break;
    if (reg32(NVME_CSTS) & CSTS_CFS) {
      outcome = OUTCOME_FATAL;
      break;
    }
    if (rdtsc() - start > COMMAND_TIMEOUT_CYCLES) break;
    idle();
  }
  __asm__ volatile("sti" ::: "memory");
  if (!completion_ready(q)) return outcome;
  uint32_t entry[CQE_DWORDS];
  consume(q, entry);
  if ((entry[3] & 0xffff) != cid) {
    fail_begin("a completion for another command: got command id ");
    put_dec(entry[3] & 0xffff);
    puts_serial(", expected ");
    put_dec(cid);
    die(FERRY_NVMECHECK_EXIT_IO);
  }
  return (int32_t)((entry[3] >> 17) & 0x7ff);
}

/* Waits for the controller to fail (CSTS.CFS) after a doorbell whose command cannot complete. */
static int32_t wait_fatal(void) {
  const uint64_t start = rdtsc();
  while (rdtsc() - start <= COMMAND_TIMEOUT_CYCLES) {
    if (reg32(NVME_CSTS) & CSTS_CFS) return OUTCOME_FATAL;
    cpu_relax();
  }
  return OUTCOME_NO_COMPLETION;
}

/* About 2.5 s between cases (250 LAPIC timer ticks; 2^33 TSC cycles without the timer), so the
 * lab kernel logs each case's IOMMU fault: Linux prints DMAR faults rate-limited (10 messages in
 * 5 s, about 3 faults), and QEMU's IOMMU drops a device's new fault while its last one is still
 * unread. */
#define PAUSE_TICKS 250u
static void pause_between_cases(void) {
  const uint32_t until = timer_ticks + PAUSE_TICKS;
  const uint64_t start = rdtsc();
  for (;;) {
    __asm__ volatile("cli" ::: "memory");
    if (timer_works ? (int32_t)(timer_ticks - until) >= 0 : rdtsc() - start > (1ull << 33)) break;
    idle();
  }
  __asm__ volatile("sti" ::: "memory");
}

/* Ends a case: prints its outcome, resets the controller if it stopped (or `reset` asks for it),
 * then proves the device still works: LBA 0 read into guest RAM holds the nonce. */
static void end_case(int32_t outcome, int reset) {
  put_outcome(outcome);
  end_line();
  if (outcome < 0 || reset) {
    say("resetting the controller and re-creating its queues\n");
    start_controller();
    create_io_queues();
  }
  zero_in_buffer();
  rw_command(NVM_READ, FERRY_NVMECHECK_NONCE_LBA, 1, in_buffer, in_prp_list, "Read LBA 0");
  barrier();
  if (in_buffer[0] != nonce_) {
    fail_begin("LBA 0 read after an escape case does not hold the nonce: ");
    put_hex64(in_buffer[0]);
    die(FERRY_NVMECHECK_EXIT_MISMATCH);
  }
  say("escape case ");
  put_dec(cases_);
  puts_serial(" done; LBA 0 read into RAM after it: ok\n");
  ++cases_;
  pause_between_cases();
}

static void begin_case(const char* what, uint64_t address) {
  say("escape ");
  puts_serial(what);
  puts_serial(" at ");
  put_hex64(address);
}

static void clear_sqe(uint32_t command[SQE_DWORDS], uint32_t opcode, uint64_t lba,
                      uint32_t blocks) {
  clear_command(command);
  command[0] = opcode;
  command[1] = FERRY_NVMECHECK_NSID;
  command[10] = (uint32_t)lba;
  command[11] = (uint32_t)(lba >> 32);
  command[12] = blocks - 1; /* 0's based */
}
static void set_prp2(uint32_t command[SQE_DWORDS], uint64_t address) {
  command[8] = (uint32_t)address;
  command[9] = (uint32_t)(address >> 32);
}

/* A Read of LBA 0 whose data pointer (PRP1) is `outside`: the device writes there. */
static void read_into(uint64_t outside) {
  uint32_t command[SQE_DWORDS];
  clear_sqe(command, NVM_READ, FERRY_NVMECHECK_NONCE_LBA, 1);
  set_prp1(command, (const void*)(uintptr_t)outside);
  begin_case("Read of LBA 0 into PRP1", outside);
  puts_serial(": ");
  end_case(wait_outcome(&io_, submit(&io_, command)), 0);
}

/* A Write of `pages` pages to this case's LBAs, page `escaping` of them from `outside` through
 * `how` (PRP1, PRP2 or an entry of the PRP list); the other pages come from guest RAM. The
 * device reads `outside` and writes what it got to the disk, where the host test looks. */
enum prp_slot { BY_PRP1, BY_PRP2, BY_LIST_ENTRY };
static void write_from(uint64_t outside, uint32_t pages, enum prp_slot how) {
  const uint64_t lba = FERRY_NVMEESCAPE_LBA(cases_);
  const uint32_t blocks = pages * PAGE / block_size_, words = block_size_ / 8;
  for (uint32_t i = 0; i < blocks * words; ++i) {
    out_buffer[i] = ferry_nvmeescape_guest_word(nonce_, lba + i / words, i % words);
  }
  uint32_t command[SQE_DWORDS];
  clear_sqe(command, NVM_WRITE, lba, blocks);
  set_prps(command, out_buffer, pages * PAGE, out_prp_list);
  uint32_t escaping = 0;
  if (how == BY_PRP1) {
    set_prp1(command, (const void*)(uintptr_t)outside);
  } else if (how == BY_PRP2) {
    set_prp2(command, outside);
    escaping = 1;
  } else {
    out_prp_list[pages - 2] = outside; /* the last page */
    escaping = pages - 1;
  }
  barrier();
  begin_case(how == BY_PRP1   ? "Write from PRP1"
             : how == BY_PRP2 ? "Write from PRP2"
                              : "Write from a PRP list entry",
             outside);
  puts_serial(" (LBA ");
  put_dec64(lba);
  puts_serial(", ");
  put_dec(pages);
  puts_serial(" page(s), page ");
  put_dec(escaping);
  puts_serial(" from outside): ");
  end_case(wait_outcome(&io_, submit(&io_, command)), 0);
}

/* A Read of three pages whose PRP2 names a PRP list at `outside`: the device reads the list
 * there. */
static void read_with_list_at(uint64_t outside) {
  const uint32_t pages = 3;
  uint32_t command[SQE_DWORDS];
  clear_sqe(command, NVM_READ, FERRY_NVMECHECK_NONCE_LBA, pages * PAGE / block_size_);
  set_prp1(command, in_buffer);
  set_prp2(command, outside);
  begin_case("Read with its PRP list", outside);
  puts_serial(": ");
  end_case(wait_outcome(&io_, submit(&io_, command)), 0);
}

static void create_queue(uint32_t opcode, uint64_t base, uint32_t dword11, const char* what) {
  uint32_t command[SQE_DWORDS];
  clear_command(command);
  command[0] = opcode;
  set_prp1(command, (const void*)(uintptr_t)base);
  command[10] = (uint32_t)(io_.entries - 1u) << 16 | 2u; /* queue 2 */
  command[11] = dword11;
  admin_command(command, what, FERRY_NVMECHECK_EXIT_QUEUES);
}

/* I/O submission queue 2 (on completion queue 1) at `outside`: its doorbell makes the device
 * fetch a command from there. */
static void submission_queue_at(uint64_t outside) {
  create_queue(ADMIN_CREATE_SQ, outside, 1u << 16 /* CQID 1 */ | 0x1 /* PC */,
               "Create I/O Submission Queue 2 outside RAM");
  begin_case("I/O submission queue 2 (created) with its base", outside);
  puts_serial(", doorbell rung: ");
  struct queue sq2 = {"I/O 2", 2, io_.entries, 0, 0, 0, 0, 1, 1};
  write_reg32(sq_doorbell(&sq2), 1);
  end_case(wait_fatal(), 1);
}

/* I/O completion queue 2 at `outside` (no interrupts), submission queue 2 in RAM: a Read of
 * LBA 0 into RAM, whose completion the device must write outside. */
static void completion_queue_at(uint64_t outside) {
  create_queue(ADMIN_CREATE_CQ, outside, 0x1 /* PC, IEN off */,
               "Create I/O Completion Queue 2 outside RAM");
  struct queue q2 = {"I/O 2", 2, io_.entries, io2_sq_mem, io2_cq_mem, 0, 0, 1, 1};
  clear_queue(&q2);
  create_queue(ADMIN_CREATE_SQ, (uintptr_t)io2_sq_mem, 2u << 16 /* CQID 2 */ | 0x1,
               "Create I/O Submission Queue 2");
  uint32_t command[SQE_DWORDS];
  clear_sqe(command, NVM_READ, FERRY_NVMECHECK_NONCE_LBA, 1);
  set_prp1(command, in_buffer);
  begin_case("I/O completion queue 2 (created) with its base", outside);
  puts_serial(", a Read submitted on queue 2: ");
  submit(&q2, command);
  end_case(wait_fatal(), 1);
}

/* The admin submission queue at `outside`: reset, ASQ outside, enable, ring the doorbell. */
static void admin_queue_at(uint64_t outside) {
  write_reg32(NVME_CC, reg32(NVME_CC) & ~CC_EN);
  wait_ready(0, FERRY_NVMECHECK_EXIT_CONTROLLER);
  clear_queue(&admin_);
  write_reg64(NVME_ASQ, outside);
  write_reg64(NVME_ACQ, (uint64_t)(uintptr_t)admin_.cq);
  /* QEMU clears CC at the reset: the whole configuration again, as start_controller() does. */
  const uint32_t config = CC_IOCQES | CC_IOSQES | CC_AMS_RR | CC_MPS_4K | CC_CSS_NVM;
  write_reg32(NVME_CC, config);
  write_reg32(NVME_CC, config | CC_EN);
  wait_ready(CSTS_RDY, FERRY_NVMECHECK_EXIT_CONTROLLER);
  begin_case("admin submission queue (controller enabled) with its base", outside);
  puts_serial(", doorbell rung: ");
  write_reg32(sq_doorbell(&admin_), 1);
  end_case(wait_fatal(), 1);
}

int guest_main(uint32_t index, uint32_t count) {
  (void)count;
  bring_up_driver(index);
  rw_command(NVM_READ, FERRY_NVMECHECK_NONCE_LBA, 1, in_buffer, in_prp_list, "Read LBA 0");
  barrier();
  nonce_ = in_buffer[0];
  say("nonce ");
  put_hex64(nonce_);
  end_line();
  if (block_size_ > PAGE) fail(FERRY_NVMECHECK_EXIT_IDENTIFY, "blocks larger than a page");

  /* Outside the guest's RAM: right above it; the legacy VGA hole below 1 MiB (RAM on both sides,
   * ferry maps neither into the IOMMU); the 3-4 GiB hole (PCI ECAM); 1 TiB - 4 KiB; and an
   * address like those where Linux places a process's mmap()s, such as ferry's own memory. */
  static const uint64_t outside[] = {FERRY_NVMEESCAPE_RAM_BYTES, 0xa0000ull, 0xe0000000ull,
                                     (1ull << 40) - PAGE, 0x7f0000000000ull};
  const uint32_t places = sizeof outside / sizeof outside[0];
  for (uint32_t i = 0; i < places; ++i) {
    read_into(outside[i]);
    write_from(outside[i], 1, BY_PRP1);
  }
  const uint64_t above = FERRY_NVMEESCAPE_RAM_BYTES;
  write_from(above, 2, BY_PRP2);
  write_from(above, 3, BY_LIST_ENTRY);
  read_with_list_at(above);
  submission_queue_at(above);
  completion_queue_at(above);
  admin_queue_at(above);
  say("escape: ");
  put_dec(cases_);
  puts_serial(" cases done\n");
  return FERRY_NVMECHECK_EXIT_OK;
}
