#!/bin/sh
# /init of the example Linux guest (examples/linux.yaml; docs/linux.md). Built into an initramfs
# with scripts/make-initramfs --init examples/linux-init.sh. It mounts the kernel's file systems,
# loads the modules /etc/modules lists, prints a banner, then:
#   - ferry.shell=1 on the kernel command line (the interactive example): a shell on the
#     console; leaving it (exit or Ctrl-D) powers the VM off;
#   - otherwise: runs ferry.run=<command> if given, and powers off.
# poweroff -f needs ferry's ACPI power-off device; without it the guest halts instead.
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts

if [ -f /etc/modules ]; then
  while read -r module; do
    [ -n "$module" ] && { modprobe "$module" || echo "init: modprobe $module failed"; }
  done </etc/modules
fi

shell=0 run=""
for word in $(cat /proc/cmdline); do
  case "$word" in
    ferry.shell=1) shell=1 ;;
    ferry.run=*) run=${word#ferry.run=} ;;
  esac
done

echo "=== ferry linux guest: $(uname -sr), $(grep -c ^processor /proc/cpuinfo) CPU(s), $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo) ==="

if [ "$shell" = 1 ]; then
  echo "shell on the console; exit powers off (Ctrl-A x quits ferry at once)"
  # setsid + cttyhack give the shell a controlling terminal, so Ctrl-C reaches its jobs.
  setsid cttyhack sh -l
elif [ -n "$run" ]; then
  sh -c "$run"
  echo "init: '$run' exited with status $?"
fi
echo "init: powering off"
sync
poweroff -f
