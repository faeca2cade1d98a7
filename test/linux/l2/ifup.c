/* ifup IFNAME: sets IFF_UP on a network interface, for the L2 Linux of the `linux` tests
 * (test/linux/l2/nic). The lab's kernel has no IPv4, IPv6 or packet sockets, the families
 * busybox's `ip link set up` asks for; SIOCSIFFLAGS on a Unix socket reaches the device all the
 * same (the socket layer hands interface ioctls a family does not know to the network core). */
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2 || strlen(argv[1]) >= IFNAMSIZ) {
    fprintf(stderr, "usage: ifup IFNAME\n");
    return 2;
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("ifup: socket(AF_UNIX)");
    return 1;
  }
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strcpy(request.ifr_name, argv[1]);
  if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
    perror("ifup: SIOCGIFFLAGS");
    return 1;
  }
  request.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) {
    perror("ifup: SIOCSIFFLAGS");
    return 1;
  }
  close(fd);
  return 0;
}
