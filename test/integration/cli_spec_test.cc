// `ferry validate` and `ferry run` on bad input: every error names the place, the key and what
// is allowed, exits 2, and happens before anything is created (no KVM needed).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "support/bzimage_builder.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class CliSpec : public ::testing::Test {
 protected:
  ProcessResult ferry(std::vector<std::string> args) {
    args.insert(args.begin(), FERRY_BINARY);
    return Process(args, dir_.path()).wait(deadline_);
  }
  // Writes vm.yaml and runs `ferry <command> vm.yaml extra...`.
  ProcessResult with_spec(const std::string& command, const std::string& yaml,
                          std::vector<std::string> extra = {}) {
    spec_ = dir_.write("vm.yaml", yaml);
    std::vector<std::string> args = {command, spec_};
    args.insert(args.end(), extra.begin(), extra.end());
    return ferry(args);
  }
  // The spec must be refused by both commands with `message`, exit 2, and print nothing on
  // stdout.
  void expect_refused(const std::string& yaml, const std::string& message,
                      std::vector<std::string> extra = {}) {
    expect_refused_with(yaml, {message}, extra);
  }
  // The same with a message in parts, e.g. around the spec's absolute path.
  void expect_refused_with(const std::string& yaml, const std::vector<std::string>& parts,
                           std::vector<std::string> extra = {}) {
    for (const char* command : {"validate", "run"}) {
      ProcessResult r = with_spec(command, yaml, extra);
      EXPECT_EQ(r.exit_status, 2) << command << ": " << r.err;
      for (const std::string& part : parts) EXPECT_THAT(r.err, HasSubstr(part)) << command;
      EXPECT_EQ(r.out, "") << command;
    }
  }

  // A FIFO used to block ferry forever in open(): kill it after `deadline_` so the test fails.
  std::string fifo(const std::string& name) {
    const std::string path = dir_.path() + "/" + name;
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0);
    deadline_ = std::chrono::seconds(10);
    return path;
  }

  TempDir dir_;
  std::string spec_;
  std::chrono::milliseconds deadline_ = std::chrono::seconds(60);
};

TEST_F(CliSpec, ValidateSummarizesTheExample) {
  ProcessResult r = ferry({"validate", std::string(FERRY_SOURCE_DIR) + "/examples/hello.yaml"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("examples/hello.yaml: valid. VM hello: 1 vCPU(s), 64 MiB of "
                               "memory, payload built-in hello (ELF, long mode)\n"));
}

TEST_F(CliSpec, SeccompIsOnOrOff) {
  ProcessResult r =
      ferry({"run", std::string(FERRY_SOURCE_DIR) + "/examples/hello.yaml", "--seccomp", "maybe"});
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--seccomp maybe: expected on or off"));
  EXPECT_EQ(r.out, "");
}

// A Linux payload: a synthetic bzImage (cmdline_size 20) written beside the spec.
class CliLinux : public CliSpec {
 protected:
  CliLinux() {
    BzImageBuilder b;
    b.cmdline_size = 20;
    const std::vector<uint8_t> image = b.bytes();
    dir_.write("bzImage", std::string(image.begin(), image.end()));
    dir_.write("initrd", std::string(0x1800, 'i'));
  }
};

TEST_F(CliLinux, ValidateShowsWhereTheKernelInitrdAndCommandLineGo) {
  ProcessResult r = with_spec(
      "validate", "payload: {kernel: bzImage, initrd: initrd, cmdline: \"console=ttyS0\"}\n");
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("payload Linux kernel " + dir_.path() +
                               "/bzImage (bzImage at 0x1000000-0x1800000, 64-bit entry 0x1000200; "
                               "initrd " +
                               dir_.path() +
                               "/initrd at 0x3ffe000; cmdline "
                               "\"console=ttyS0\")"));
}

TEST_F(CliLinux, AMissingKernelOrInitrdIsNamedAtItsKey) {
  expect_refused("payload: {kernel: nothere}\n",
                 "vm.yaml:1:19: payload.kernel: opening " + dir_.path() + "/nothere");
  expect_refused("payload: {kernel: bzImage, initrd: gone}\n",
                 "vm.yaml:1:36: payload.initrd: opening " + dir_.path() + "/gone");
}

TEST_F(CliLinux, AKernelIsAPayloadOfItsOwn) {
  expect_refused("payload: {kernel: bzImage, builtin: hello}\n",
                 "vm.yaml:1:37: payload.builtin: a Linux kernel is a payload of its own");
  expect_refused("payload: {kernel: bzImage, mode: long}\n",
                 "vm.yaml:1:34: payload.mode: a Linux kernel is a payload of its own");
  expect_refused("payload: {builtin: hello, cmdline: quiet}\n",
                 "vm.yaml:1:36: payload.cmdline: is for a Linux kernel; add kernel: <bzImage>");
}

TEST_F(CliLinux, UnknownKeysListTheLinuxOnes) {
  expect_refused(
      "payload: {kernel: bzImage, initramfs: initrd}\n",
      "vm.yaml:1:28: unknown key 'initramfs' in payload; allowed: builtin, file, format, "
      "mode, load_address, entry, kernel, initrd, cmdline");
}

TEST_F(CliLinux, TheHeadersChecksNameTheKeyAtFault) {
  expect_refused("payload: {kernel: initrd}\n",
                 "vm.yaml:1:19: payload.kernel: not a Linux bzImage");
  expect_refused("payload: {kernel: bzImage, cmdline: \"console=ttyS0 loglevel=8\"}\n",
                 "vm.yaml:1:37: payload.cmdline: is 24 bytes; this kernel takes at most 20");
  expect_refused("memory: {size: 16M}\npayload: {kernel: bzImage}\n",
                 "vm.yaml:2:19: payload.kernel: the kernel decompresses in place over init_size 8 "
                 "MiB from 0x1000000, up to 0x1800000, past the guest's low RAM (16 MiB of "
                 "memory); raise memory.size to at least 24 MiB");
}

TEST_F(CliSpec, UnknownKeysAreRefusedWithASuggestion) {
  expect_refused("vcpu: 2\npayload: {builtin: hello}\n",
                 "vm.yaml:1:1: unknown key 'vcpu' (did you mean 'vcpus'?); allowed: version, "
                 "name, vcpus, memory, payload, serial, devices");
  expect_refused("payload: {builtin: hello, mod: long}\n",
                 "vm.yaml:1:27: unknown key 'mod' in payload (did you mean 'mode'?)");
}

TEST_F(CliSpec, WrongTypesAndImpossibleValuesNameTheKeyAndTheRange) {
  expect_refused("vcpus: many\npayload: {builtin: hello}\n",
                 "vm.yaml:1:8: vcpus: 'many' is not a whole number from 1 to 256");
  expect_refused("vcpus: 0\npayload: {builtin: hello}\n",
                 "vm.yaml:1:8: vcpus: '0' is not a whole number from 1 to 256");
  expect_refused("memory: 1K\npayload: {builtin: hello}\n",
                 "vm.yaml:1:9: memory: 1 KiB is outside 2 MiB to 1 TiB");
  expect_refused("memory: {size: 3000001}\npayload: {builtin: hello}\n",
                 "vm.yaml:1:16: memory.size: 2.9 MiB is not a multiple of the 4 KiB page size");
  expect_refused("memory: {size: 3M, hugepages: 2M}\npayload: {builtin: hello}\n",
                 "memory.size: 3 MiB is not a multiple of the 2 MiB page size");
  expect_refused("memory: {size: 64M, hugepages: yes}\npayload: {builtin: hello}\n",
                 "vm.yaml:1:32: memory.hugepages: 'yes' is not one of: none, thp, 2M, 1G");
  expect_refused("serial: loud\npayload: {builtin: hello}\n",
                 "vm.yaml:1:9: serial: 'loud' is not one of: stdout, stdio, off");
  expect_refused("name: \"a b\"\npayload: {builtin: hello}\n",
                 "vm.yaml:1:7: name: use at most 64 letters, digits");
  expect_refused("version: 2\npayload: {builtin: hello}\n",
                 "vm.yaml:1:10: version: '2' is not a whole number from 1 to 1");
}

TEST_F(CliSpec, PayloadMistakesSayWhatToWrite) {
  expect_refused("vcpus: 1\n", "payload: is missing; say what to run");
  expect_refused("payload: {builtin: nope}\n",
                 "vm.yaml:1:20: payload.builtin: no built-in guest named 'nope'; built-in guests: "
                 "hello, hello32, hello16");
  expect_refused("payload: {builtin: hello, mode: real}\n",
                 "payload.mode: a built-in guest brings its own format, mode and addresses");
  expect_refused("payload: {file: missing.elf}\n", "vm.yaml:1:17: payload.file: opening");
  dir_.write("raw.bin", std::string(16, '\x90'));
  expect_refused("payload: {file: raw.bin}\n",
                 "is not an ELF file; for a raw image add format: flat, load_address and mode");
  expect_refused("payload: {file: raw.bin, format: flat, mode: real}\n",
                 "payload.load_address: is required for a flat image");
  expect_refused("payload: {file: raw.bin, format: flat, load_address: 2M, mode: real}\n",
                 "payload.load_address: 0x200000 is above 1 MiB, out of reach of real mode");
  expect_refused("devices: [{type: gpu}]\npayload: {builtin: hello}\n",
                 "vm.yaml:1:18: devices[0].type: 'gpu' is not one of: pci-test");
}

TEST_F(CliSpec, BrokenYamlPointsAtTheSyntaxError) {
  expect_refused("payload: {builtin: hello\nvcpus: 2\n", "vm.yaml:");
  expect_refused("payload: {builtin: hello\nvcpus: 2\n", "not valid YAML");
}

TEST_F(CliSpec, OverridesAreCheckedLikeTheFileAndNamedInErrors) {
  expect_refused("payload: {builtin: hello}\n", "--set vcpus=0: vcpus: '0' is not a whole number",
                 {"--set", "vcpus=0"});
  expect_refused("payload: {builtin: hello}\n", "--set 'vcpus': write key=value",
                 {"--set", "vcpus"});
  ProcessResult r =
      with_spec("validate", "payload: {builtin: hello}\n",
                {"--set", "vcpus=3", "--set", "memory.size=128M", "--set", "payload.builtin=smp"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("3 vCPU(s), 128 MiB of memory, payload built-in smp"));
}

TEST_F(CliSpec, NothingOfTheSpecIsDroppedSilently) {
  // A second document would be ignored; refuse it at the line where it starts.
  expect_refused("payload: {builtin: hello}\n---\nvcpus: 999\n",
                 "vm.yaml:2:1: a second YAML document starts here");
  expect_refused("payload: {builtin: hello}\n---\n", "vm.yaml:2:1: a second YAML document");
  // An override must not replace a spec that is not a mapping.
  expect_refused_with("- payload\n",
                      {"--set payload.builtin=hello: the spec is a list (",
                       "vm.yaml:1:1), not a mapping, so it has no key 'payload'"},
                      {"--set", "payload.builtin=hello"});
  expect_refused_with("just words\n",
                      {"--set vcpus=2: the spec is a scalar (", "vm.yaml:1:1), not a mapping"},
                      {"--set", "vcpus=2"});
  // Nor turn a scalar or a list into a mapping.
  // An override's value is read like the file: its second document is not dropped either.
  expect_refused("payload: {builtin: hello}\n",
                 "--set vcpus=2\n---\n300:2:1: a second YAML document starts here",
                 {"--set", "vcpus=2\n---\n300"});
  expect_refused_with("vcpus: 2\npayload: {builtin: hello}\n",
                      {"--set vcpus.x=1: vcpus is a scalar (",
                       "vm.yaml:1:8), not a mapping, so it has no key 'x'; set vcpus itself, e.g. "
                       "--set vcpus=<value>"},
                      {"--set", "vcpus.x=1"});
  expect_refused_with("payload: {builtin: pci}\ndevices: [{type: pci-test}]\n",
                      {"--set devices.0.slot=3: devices is a list (", "vm.yaml:2:10), not a"},
                      {"--set", "devices.0.slot=3"});
  expect_refused("vcpus: 2\npayload: {builtin: hello}\n",
                 "--set vcpus.x=1: vcpus is a scalar (--set vcpus=3)",
                 {"--set", "vcpus=3", "--set", "vcpus.x=1"});
}

TEST_F(CliSpec, KeysAnOverrideCreatesAreBlamedOnIt) {
  expect_refused("payload: {builtin: hello}\n", "--set foo.bar=1: unknown key 'foo'",
                 {"--set", "foo.bar=1"});
  expect_refused("payload: {builtin: hello}\n", "--set vcpus.x=1: vcpus: must be a whole number",
                 {"--set", "vcpus.x=1"});
  // An empty key in the file is filled in, keeping the rest of the spec.
  ProcessResult r = with_spec("validate", "vcpus: 3\nmemory:\npayload: {builtin: hello}\n",
                              {"--set", "memory.size=128M"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("3 vCPU(s), 128 MiB of memory"));
}

// What `ferry run` would refuse when it loads the payload or opens the serial file, `ferry
// validate` refuses too, at the key to change; validate creates nothing.
TEST_F(CliSpec, ValidateRefusesPayloadsRunWouldRefuse) {
  const std::string elf_magic(
      "\x7f"
      "ELF",
      4);
  dir_.write("empty.bin", "");
  expect_refused_with("payload: {file: empty.bin, format: flat, load_address: 1M, mode: long}\n",
                      {"vm.yaml:1:17: payload.file: ", "the flat image is empty"});
  dir_.write("four.elf", elf_magic);
  expect_refused_with(
      "payload: {file: four.elf}\n",
      {"vm.yaml:1:17: payload.file: ", "too short, truncated (4 bytes", "rebuild the payload"});
  dir_.write("twenty.elf", elf_magic + std::string(16, '\x02'));
  expect_refused_with("payload: {file: twenty.elf}\n",
                      {"vm.yaml:1:17: payload.file: ", "too short, truncated (20 bytes"});
  // An i386 executable: ELFCLASS32, little-endian, EM_386.
  std::string i386 = elf_magic + std::string("\x01\x01\x01", 3) + std::string(57, '\0');
  i386[18] = 3;
  dir_.write("i386.elf", i386);
  expect_refused_with("payload: {file: i386.elf}\n",
                      {"vm.yaml:1:17: payload.file: ", "(this one is 32-bit)",
                       "link the payload "
                       "for x86-64"});
  dir_.write("big.bin", std::string(3 * 1024 * 1024, '\x90'));
  expect_refused_with(
      "memory: 2M\npayload: {file: big.bin, format: flat, load_address: 1M, mode: long}\n",
      {"vm.yaml:2:17: payload.file: ",
       "is 3 MiB, more than the 2 MiB of guest RAM; "
       "raise memory.size"});
  dir_.write("small.bin", std::string(16, '\x90'));
  expect_refused_with(
      "memory: 4M\npayload: {file: small.bin, format: flat, load_address: 8M, mode: long}\n",
      {"vm.yaml:2:56: payload.load_address: ", "is not inside guest RAM", "raise memory.size"});
}

TEST_F(CliSpec, ValidateRefusesASerialFileRunCouldNotCreate) {
  expect_refused_with("payload: {builtin: hello}\nserial: {file: no/such/dir/out.log}\n",
                      {"vm.yaml:2:16: serial.file: ", "no/such/dir does not exist; create it"});
  expect_refused_with("payload: {builtin: hello}\nserial: {file: .}\n",
                      {"vm.yaml:2:16: serial.file: ", "is a directory; name a file"});
  ProcessResult r =
      with_spec("validate", "payload: {builtin: hello}\nserial: {file: console.log}\n");
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/console.log"));
}

TEST_F(CliSpec, ANameFromTheFileNameFollowsTheNameRule) {
  const std::string spec = dir_.write("bad name!.yaml", "payload: {builtin: hello}\n");
  for (const char* command : {"validate", "run"}) {
    ProcessResult r = ferry({command, spec});
    EXPECT_EQ(r.exit_status, 2) << command << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("bad name!.yaml: name: 'bad name!' comes from the spec's file "
                                 "name, and a VM name is at most 64 letters"));
    EXPECT_THAT(r.err, HasSubstr("add name: bad-name- to the spec, or rename the file"));
  }
  dir_.write("bad name!.yaml", "name: tidy\npayload: {builtin: hello}\n");
  EXPECT_EQ(ferry({"validate", spec}).exit_status, 0);
}

TEST_F(CliSpec, YamlMistakesSayWhatIsWrongWhereAndTheFix) {
  expect_refused("payload:\n\tbuiltin: hello\n",
                 "vm.yaml:2:1: not valid YAML: tabs are not allowed for indentation in YAML; use "
                 "spaces");
  expect_refused(std::string("payload: {builtin: \"hel\0lo\"}\n", 29),
                 "vm.yaml:1:24: the control character 0x00 (NUL) is not allowed in YAML");
  expect_refused("payload: " + std::string(5000, '[') + std::string(5000, ']') + "\n",
                 "vm.yaml:1:42: brackets nest more than 32 deep here");
  expect_refused("vcpus: 2\npayload: {builtin: [hello]\n",
                 "vm.yaml:2:10: not valid YAML: this '{' is never closed; add the matching '}'");
}

TEST_F(CliSpec, UsageErrorsExit2) {
  ProcessResult r = ferry({"frobnicate"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("ferry: unknown command 'frobnicate'"));
  r = ferry({"run"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("give the VM spec"));
  r = ferry({"run", "a.yaml", "b.yaml"});
  EXPECT_EQ(r.exit_status, 2);
  r = ferry({"run", "--bogus", "a.yaml"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("See: ferry run --help"));
  r = ferry(
      {"run", "--log-level", "chatty", std::string(FERRY_SOURCE_DIR) + "/examples/hello.yaml"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("--log-level chatty: choose"));
  r = ferry({"run", "--accel", "xen", std::string(FERRY_SOURCE_DIR) + "/examples/hello.yaml"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("--accel xen: choose"));
  r = ferry({"run", dir_.path() + "/absent.yaml"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("reading the VM spec: opening"));
}

TEST_F(CliSpec, ASpecThatIsNotARegularFileIsRefusedWithoutBlocking) {
  const std::string spec = fifo("f.yaml");
  for (const char* command : {"validate", "run"}) {
    ProcessResult r = ferry({command, spec});
    EXPECT_EQ(r.exit_status, 2) << command << " blocked or crashed (signal " << r.signal << ")";
    EXPECT_THAT(r.err, HasSubstr("reading the VM spec: " + spec +
                                 " is a FIFO (named pipe), not a regular file"))
        << command;
  }
  ProcessResult r = ferry({"validate", dir_.path()});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr(dir_.path() + " is a directory, not a regular file"));
}

TEST_F(CliSpec, APayloadOrSerialFileThatIsNotARegularFileIsRefusedWithoutBlocking) {
  const std::string pipe = fifo("pipe");
  expect_refused("payload: {file: pipe, format: flat, load_address: 0x8000, mode: real}\n",
                 "vm.yaml:1:17: payload.file: " + pipe + " is a FIFO (named pipe)");
  expect_refused("payload: {file: " + dir_.path() + "}\n",
                 "payload.file: " + dir_.path() + " is a directory");
  expect_refused("payload: {builtin: hello}\nserial: {file: pipe}\n",
                 "vm.yaml:2:16: serial.file: " + pipe + " is a FIFO (named pipe)");
  expect_refused("payload: {builtin: hello}\nserial: {file: /dev/null}\n",
                 "serial.file: /dev/null is a character device, not a regular file");
}

TEST_F(CliSpec, HelpAndVersionExit0) {
  ProcessResult r = ferry({"run", "--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.out, AllOf(HasSubstr("Usage: ferry run <vm.yaml>"), HasSubstr("--set")));
  r = ferry({"version"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.out, StartsWith("ferry 0.1.0 ("));
}

}  // namespace
}  // namespace ferry::test
