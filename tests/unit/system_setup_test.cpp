// system_setup_test.cpp - reading /proc/mounts to find the cgroup v2, bpffs and tracefs mounts.
#include "policer/system_setup.h"

#include <doctest/doctest.h>

#include <string>

namespace {

using policer::daemon::find_mount;
using policer::daemon::parse_mounts;

// /proc/mounts of a systemd host with a disk mounted on a path with a space in it.
const char kMounts[] = "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
                       "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
                       "udev /dev devtmpfs rw,nosuid,relatime,size=8123456k,mode=755 0 0\n"
                       "/dev/nvme0n1p2 / ext4 rw,relatime,errors=remount-ro 0 0\n"
                       "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
                       "bpf /sys/fs/bpf bpf rw,nosuid,nodev,noexec,relatime,mode=700 0 0\n"
                       "/dev/sdb1 /mnt/my\\040disk ext4 rw,relatime 0 0\n"
                       "tmpfs /run/user/1000 tmpfs rw,nosuid,nodev,relatime,mode=700 0 0\n";

} // namespace

TEST_CASE("parse_mounts reads source, mount point and type of each line") {
    auto mounts = parse_mounts(kMounts);
    REQUIRE(mounts.size() == 8);
    CHECK(mounts[0].source == "sysfs");
    CHECK(mounts[0].target == "/sys");
    CHECK(mounts[0].fstype == "sysfs");
    CHECK(mounts[3].source == "/dev/nvme0n1p2");
    CHECK(mounts[3].target == "/");
    CHECK(mounts[3].fstype == "ext4");
    CHECK(mounts[7].target == "/run/user/1000");
}

TEST_CASE("parse_mounts decodes the octal escapes of the kernel") {
    auto mounts = parse_mounts(kMounts);
    REQUIRE(mounts.size() == 8);
    CHECK(mounts[6].source == "/dev/sdb1");
    CHECK(mounts[6].target == "/mnt/my disk");
    CHECK(mounts[6].fstype == "ext4");

    auto odd = parse_mounts("/dev/sdc1 /mnt/tab\\011and\\134backslash\\012 vfat rw 0 0\n"
                            "//srv/share /mnt/end\\040 cifs rw 0 0\n"
                            "none /mnt/not\\08escape tmpfs rw 0 0\n"
                            "none /mnt/nor\\400this tmpfs rw 0 0\n");
    REQUIRE(odd.size() == 4);
    CHECK(odd[0].target == "/mnt/tab\tand\\backslash\n");
    CHECK(odd[1].target == "/mnt/end ");
    CHECK(odd[2].target == "/mnt/not\\08escape");
    CHECK(odd[3].target == "/mnt/nor\\400this");
}

TEST_CASE("parse_mounts skips lines with fewer than three fields") {
    auto mounts = parse_mounts("\nproc /proc\nbpf /sys/fs/bpf bpf rw 0 0");
    REQUIRE(mounts.size() == 1);
    CHECK(mounts[0].target == "/sys/fs/bpf");
    CHECK(parse_mounts("").empty());
}

TEST_CASE("find_mount finds the cgroup v2 and bpf mounts and nothing that is not mounted") {
    auto mounts = parse_mounts(kMounts);
    CHECK(find_mount(mounts, "cgroup2") == "/sys/fs/cgroup");
    CHECK(find_mount(mounts, "bpf") == "/sys/fs/bpf");
    CHECK(find_mount(mounts, "tracefs") == std::nullopt);
    CHECK(find_mount({}, "cgroup2") == std::nullopt);
}

TEST_CASE("find_mount gives the first mount of a type mounted more than once") {
    // A hybrid host: the unified hierarchy under the v1 tmpfs, and a container's view after it.
    auto mounts = parse_mounts("tmpfs /sys/fs/cgroup tmpfs ro,mode=755 0 0\n"
                               "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nsdelegate 0 0\n"
                               "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
                               "cgroup2 /var/lib/k/cgroup cgroup2 rw 0 0\n");
    CHECK(find_mount(mounts, "cgroup2") == "/sys/fs/cgroup/unified");
    CHECK(find_mount(mounts, "cgroup") == "/sys/fs/cgroup/memory");
}
