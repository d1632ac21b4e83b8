#!/bin/bash
# The nftables data path without the lab's userspace in the way: connections a second through a
# router namespace holding ruleset A (1 forward) or ruleset B (many), swapped with nft -f between short
# bursts, so both see the same load on a shared machine. Prints one line per round: "RATE_A RATE_B".
# Usage: DataPathKernel.sh RULESET_A RULESET_B ROUNDS CONNECTIONS PORT
# The rulesets forward PORT on 203.0.113.1 to 192.0.2.20 (documentation addresses, inside namespaces
# made here and deleted on exit). Needs root, nft, python3.
set -u
A=$1; B=$2; ROUNDS=$3; N=$4; PORT=$5
P=bnk$$
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; for n in c r s; do ip netns del "$P$n" 2>/dev/null; done; }
trap cleanup EXIT
for n in c r s; do ip netns add "$P$n" && ip -n "$P$n" link set lo up || exit 1; done
ip link add "${P}a" type veth peer name "${P}b" && ip link set "${P}a" netns "${P}c" && ip link set "${P}b" netns "${P}r" || exit 1
ip link add "${P}x" type veth peer name "${P}y" && ip link set "${P}x" netns "${P}r" && ip link set "${P}y" netns "${P}s" || exit 1
ip -n "${P}c" addr add 203.0.113.10/24 dev "${P}a"; ip -n "${P}c" link set "${P}a" up
ip -n "${P}r" addr add 203.0.113.1/24 dev "${P}b"; ip -n "${P}r" link set "${P}b" up
ip -n "${P}r" addr add 192.0.2.1/24 dev "${P}x"; ip -n "${P}r" link set "${P}x" up
ip -n "${P}s" addr add 192.0.2.20/24 dev "${P}y"; ip -n "${P}s" link set "${P}y" up; ip -n "${P}s" route add default via 192.0.2.1
ip netns exec "${P}r" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "${P}s" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1024)
while True:
    c, _ = s.accept()
    try: c.send(b"ok")
    except OSError: pass
    c.close()' "$PORT" </dev/null >/dev/null 2>&1 &
SERVER=$!
sleep 1
# Each connection: connect (the SYN takes the NAT rules), read the answer, close with a reset (no
# TIME_WAIT to run out of ports). The first 200 are not timed.
CLIENT='
import socket, struct, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
linger = struct.pack("ii", 1, 0)
def once():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger); s.settimeout(3)
    s.connect((addr, port)); s.recv(8); s.close()
for _ in range(200): once()
t = time.perf_counter()
for _ in range(n): once()
print(round(n / (time.perf_counter() - t)))'
for r in $(seq 1 "$ROUNDS"); do
  # Alternate which goes first, so neither always follows the other.
  if [ $((r % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
  for k in $order; do
    if [ "$k" = A ]; then file=$A; else file=$B; fi
    ip netns exec "${P}r" nft -f "$file" || exit 1
    ip netns exec "${P}r" conntrack -F >/dev/null 2>&1
    sleep 0.3
    rate=$(ip netns exec "${P}c" python3 -c "$CLIENT" 203.0.113.1 "$PORT" "$N") || exit 1
    if [ "$k" = A ]; then ra=$rate; else rb=$rate; fi
  done
  echo "$ra $rb"
done
