#!/usr/bin/env bash
# Make this host one the lab never ran on, for a "first campaign on a freshly provisioned host"
# (docs/2026-12-07-known-costs-and-a-fresh-host.md): kills the lab's processes, removes its
# containers, images, build cache, files, state and k6 link, and stops the Docker engine. The
# Debian packages stay. Destroys every lab deployment on this host: results/ is not touched.
set -u
[ "$(id -u)" = 0 ] || { echo "wipe_host.sh: run as root" >&2; exit 2; }
[ "${1:-}" = --yes ] || { echo "wipe_host.sh: removes the lab from this host; give --yes" >&2; exit 2; }
# Interrupts a campaign left steered go back first (their saved affinities live in the state).
saved=/var/lib/container-cost-lab/irq_affinity.saved
if [ -f "$saved" ]; then
  /usr/bin/python3 "$(dirname "$0")/../roles/lab/files/lab_irqs.py" restore "$saved" || exit 1
fi
pids=$(ps -eo pid,args | awk '/\/opt\/container-cost-lab\// && !/awk/ {print $1}')
[ -n "$pids" ] && kill $pids && sleep 2
ids=$(docker ps -aq --filter name=lab- 2>/dev/null)
[ -n "$ids" ] && docker rm -f $ids >/dev/null
docker rmi -f lab/service:latest lab/bookworm-minbase:latest >/dev/null 2>&1
docker builder prune -af >/dev/null 2>&1
docker network prune -f >/dev/null 2>&1
pkill dockerd && sleep 3
pkill containerd && sleep 1
rm -rf /opt/container-cost-lab /var/lib/container-cost-lab /usr/local/bin/k6
echo "wiped: the next make bench provisions everything"
