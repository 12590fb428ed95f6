#!/usr/bin/env bash
# Reserves 2 MiB huge pages and mounts a hugetlbfs so that the hugepage memory
# plugin is really exercised. Needs root; without it, says so and changes nothing
# (the plugin then reports itself unavailable and its tests skip with the reason).
set -euo pipefail
pages=${DRAGON_CI_HUGEPAGES:-256}
mount_point=${DRAGON_CI_HUGETLBFS:-/dev/hugepages}

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-hugepages: not root; leaving huge pages as they are" >&2
  exit 0
fi
current=$(cat /proc/sys/vm/nr_hugepages)
if ((current < pages)); then
  echo "$pages" >/proc/sys/vm/nr_hugepages
fi
if ! grep -q " $mount_point hugetlbfs " /proc/mounts; then
  mkdir -p "$mount_point"
  mount -t hugetlbfs -o mode=1777,pagesize=2M none "$mount_point"
fi
echo "setup-hugepages: $(grep HugePages_Free /proc/meminfo | tr -s ' '), hugetlbfs at $mount_point"
