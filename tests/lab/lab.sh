#!/usr/bin/env bash
# A bypass-router network in network namespaces, documentation addresses only:
#
#   inet 203.0.113.10 --- 203.0.113.1 [main router, sshd] 192.0.2.1 --+-- 192.0.2.2   [bypass router, sshd]
#                                                                      +-- 192.0.2.20  [device, gateway .2]
#                                                                      +-- 192.0.2.30  [LAN client, gateway .2]
#                                                                      +-- 192.0.2.31  [LAN client, gateway .1]
#                                                                      +-- 192.0.2.100 [admin workstation]
#
# The main router's default route leaves by its WAN (via 203.0.113.254, which nothing answers; no
# test sends traffic there), as a real one's does: BypassNat finds its WAN side by it.
#
# The bypass router looks like a real one: MASQUERADE on its LAN leg, conntrack INVALID dropped in
# FORWARD, ICMP redirects off, and a Clash-like nat chain that REDIRECTs TCP to a local port.
# Without those, the broken direct forward can appear to work by accident.
#
# With LAB_PROXY=tproxy-iptables, tproxy-nft or tun the proxy captures LAN traffic the way Clash's
# TPROXY and TUN modes do (see capture_proxy) instead of the nat REDIRECT: everything from the LAN to a
# non-LAN address, the replies of forwarded connections included.
# With LAB_ROUTER=openwrt the bypass router is an OpenWrt router instead (openwrt.sh): firewall4,
# uci and ucode built from OpenWrt's sources, Dropbear, BusyBox ash, and the proxy as a native nft table
# (or, with LAB_PROXY=v2ray, v2ray's TPROXY through iptables-nft beside firewall4).
# With LAB_MAIN=openwrt the main router is one too (wan and lan zones, a user's own redirect).
# With LAB_IPV6=1 the lab also has IPv6 (ipv6_lab): the bypass router is the LAN's IPv6 gateway, the main
# router routes the delegated prefix 2001:db8:1::/64 to the LAN and drops new inbound IPv6 like a home
# router, and the proxy captures IPv6 too. LAB_PROXY=v2ray is Debian's v2ray in TPROXY mode, both families.
# Either way the main router answers SSH at 192.0.2.1 (and 203.0.113.1 when Debian); its files in
# DIR are named main_known_hosts, main_sshd.pid, ...
#
#   [LAB_PROXY=nft|tproxy-iptables|tproxy-nft|tun] [LAB_ROUTER=openwrt] [LAB_MAIN=openwrt] [LAB_SECOND_BYPASS=1] lab.sh up PREFIX DIR [SERVICE...]
#                                       SERVICE is tcp:PORT or udp:PORT, served by the device;
#                                       LAB_SECOND_BYPASS=1 adds a second bypass router (see second_bypass)
#   lab.sh down PREFIX [DIR]            removes every namespace named PREFIX-*, and their processes
#   lab.sh prefix PREFIX N              moves the LAN to the delegated prefix 2001:db8:N::/64 (LAB_IPV6 labs),
#                                       as a PPPoE reconnect does
set -euo pipefail

cmd=${1:?usage: lab.sh up|down PREFIX [DIR] [SERVICE...]}
P=${2:?prefix required}

ns() { ip netns exec "$P-$1" "${@:2}"; }

. "$(dirname "$0")/openwrt.sh"

# The OpenWrt bypass router's firewall: one LAN zone (its one leg), masquerading as bypass routers
# are set up, which also makes firewall4 drop conntrack INVALID packets forwarded into it.
OPENWRT_BYPASS_FIREWALL="config defaults
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'

config zone 'lan'
	option name 'lan'
	list device 'lan0'
	option input 'ACCEPT'
	option output 'ACCEPT'
	option forward 'ACCEPT'
	option masq '1'"

# The OpenWrt main router's firewall: as a default image has it for wan and lan (the networks' devices
# and addresses come from the lab's ubus stand-in, see OPENWRT_MAIN_NETWORKS), and a redirect of the
# user's own that BypassNat must leave alone.
OPENWRT_MAIN_FIREWALL="config defaults
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'

config zone 'lan'
	option name 'lan'
	list network 'lan'
	option input 'ACCEPT'
	option output 'ACCEPT'
	option forward 'ACCEPT'

config zone 'wan'
	option name 'wan'
	list network 'wan'
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'
	option masq '1'
	option mtu_fix '1'

config forwarding
	option src 'lan'
	option dest 'wan'

config redirect 'mine'
	option name 'users own ssh'
	option target 'DNAT'
	option src 'wan'
	option dest 'lan'
	option proto 'tcp'
	option src_dport '2222'
	option dest_ip '192.0.2.20'
	option dest_port '22'"

# The ICMPv6 a default OpenWrt image lets in from the wan zone (its Allow-ICMPv6-Input rule): without it
# the main router would reject the neighbour discovery of its own WAN link. Added in IPv6 labs.
OPENWRT_MAIN_ICMPV6="

config rule
	option name 'Allow-ICMPv6-Input'
	option src 'wan'
	option proto 'icmp'
	list icmp_type 'echo-request'
	list icmp_type 'echo-reply'
	list icmp_type 'destination-unreachable'
	list icmp_type 'packet-too-big'
	list icmp_type 'time-exceeded'
	list icmp_type 'bad-header'
	list icmp_type 'unknown-header-type'
	list icmp_type 'router-solicitation'
	list icmp_type 'neighbour-solicitation'
	list icmp_type 'router-advertisement'
	list icmp_type 'neighbour-advertisement'
	option limit '1000/sec'
	option family 'ipv6'
	option target 'ACCEPT'"

# What netifd would report on the main router (ubus network.interface dump), for firewall4.
OPENWRT_MAIN_NETWORKS='{ "interface": [
	{ "interface": "lan", "up": true, "device": "lan0", "l3_device": "lan0", "ipv4-address": [ { "address": "192.0.2.1", "mask": 24 } ] },
	{ "interface": "wan", "up": true, "device": "wan0", "l3_device": "wan0", "ipv4-address": [ { "address": "203.0.113.1", "mask": 24 } ] }
] }'

down() {
  local name pid
  for name in $(ip netns list | awk '{print $1}' | grep "^$P-" || true); do
    for pid in $(ip netns pids "$name" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$name" 2>/dev/null || true
  done
  for name in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$P" || true); do
    ip link del "$name" 2>/dev/null || true
  done
}

# link HOST_NS HOST_IF: a veth from namespace HOST_NS (as HOST_IF) to a port of the LAN switch.
plug() {
  local host=$1 ifname=$2 port=$3
  ip link add "$P$port" type veth peer name "$P${port}x"
  ip link set "$P$port" netns "$P-$host"
  ns "$host" ip link set "$P$port" name "$ifname"
  ip link set "$P${port}x" netns "$P-sw"
  ns sw ip link set "$P${port}x" master br0 up
  ns "$host" ip link set "$ifname" up
}

up() {
  local dir=$1; shift
  mkdir -p "$dir"
  for n in sw inet main byp dev cli cl2 adm; do
    ip netns add "$P-$n"
    ns "$n" ip link set lo up
  done

  ns sw ip link add br0 type bridge
  ns sw ip link set br0 up

  # WAN: the internet client straight to the main router.
  ip link add "${P}w0" type veth peer name "${P}w1"
  ip link set "${P}w0" netns "$P-main"; ns main ip link set "${P}w0" name wan0
  ip link set "${P}w1" netns "$P-inet"; ns inet ip link set "${P}w1" name eth0
  ns main ip link set wan0 up; ns inet ip link set eth0 up
  ns main ip addr add 203.0.113.1/24 dev wan0
  ns inet ip addr add 203.0.113.10/24 dev eth0
  ns inet ip route add default via 203.0.113.1

  plug main lan0 m; ns main ip addr add 192.0.2.1/24 dev lan0
  plug byp lan0 b;  ns byp ip addr add 192.0.2.2/24 dev lan0
  plug dev eth0 d;  ns dev ip addr add 192.0.2.20/24 dev eth0
  plug cli eth0 c;  ns cli ip addr add 192.0.2.30/24 dev eth0
  plug cl2 eth0 e;  ns cl2 ip addr add 192.0.2.31/24 dev eth0
  plug adm eth0 a;  ns adm ip addr add 192.0.2.100/24 dev eth0
  ns byp ip route add default via 192.0.2.1
  ns main ip route add default via 203.0.113.254 dev wan0
  # The admin reaches the main router's WAN address through its LAN leg (to test the SSH lockout guard).
  ns adm ip route add 203.0.113.1/32 via 192.0.2.1
  ns cl2 ip route add default via 192.0.2.1
  ns dev ip route add default via 192.0.2.2
  ns cli ip route add default via 192.0.2.2

  # Main router: keeps the WAN, NATs the LAN out. Its port forwards are set by each test.
  ns main sysctl -qw net.ipv4.ip_forward=1
  # (An OpenWrt main router's firewall4 masquerades its wan zone itself.)
  [ "${LAB_MAIN:-debian}" = openwrt ] || ns main iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE

  # Bypass router, as a Clash box is usually set up: with iptables (LAB_PROXY=iptables, the
  # default) or with a native nftables ruleset (LAB_PROXY=nft).
  ns byp sysctl -qw net.ipv4.ip_forward=1
  for c in all default lan0; do ns byp sysctl -qw "net.ipv4.conf.$c.send_redirects=0"; done
  # An OpenWrt bypass router's proxy is a native nft table, or v2ray's TPROXY through iptables-nft (as
  # OpenClash and PassWall add theirs beside firewall4).
  if [ "${LAB_ROUTER:-debian}" = openwrt ] && [ "${LAB_PROXY:-iptables}" != v2ray ]; then LAB_PROXY=nft; fi
  if [ "${LAB_PROXY:-iptables}" = nft ]; then
    ns byp nft -f - <<'NFT'
table inet clash {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr { 0.0.0.0/8, 127.0.0.0/8, 192.0.2.0/24, 224.0.0.0/4, 255.255.255.255 } return
		meta l4proto tcp redirect to :7892
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "lan0" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state invalid drop
	}
}
NFT
  elif [ "${LAB_PROXY:-iptables}" = v2ray ]; then
    ns byp iptables -t nat -A POSTROUTING -o lan0 -j MASQUERADE
    ns byp iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
    v2ray_proxy "$dir" || return 1
  elif [ "${LAB_PROXY:-iptables}" != iptables ]; then
    ns byp iptables -t nat -A POSTROUTING -o lan0 -j MASQUERADE
    ns byp iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
    capture_proxy "$dir" "$LAB_PROXY" || return 1
  else
    ns byp iptables -t nat -A POSTROUTING -o lan0 -j MASQUERADE
    ns byp iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
    ns byp iptables -t nat -N CLASH
    for net in 0.0.0.0/8 127.0.0.0/8 192.0.2.0/24 224.0.0.0/4 255.255.255.255/32; do
      ns byp iptables -t nat -A CLASH -d "$net" -j RETURN
    done
    ns byp iptables -t nat -A CLASH -p tcp -j REDIRECT --to-ports 7892
    ns byp iptables -t nat -A PREROUTING -p tcp -j CLASH
  fi

  for n in dev cli cl2; do
    for c in all default eth0; do ns "$n" sysctl -qw "net.ipv4.conf.$c.accept_redirects=0"; done
  done
  if [ "${LAB_IPV6:-0}" = 1 ]; then ipv6_lab "$dir" || return 1; fi

  # sshd on the bypass router; the admin trusts its key through a known_hosts file.
  mkdir -p /run/sshd
  # Two host keys: known_hosts lists the ed25519 one, known_hosts_rsa only the RSA one, so a client
  # must offer the key type on file. The admin has a key of each type OpenSSH makes.
  ssh-keygen -q -t ed25519 -N '' -C lab-host -f "$dir/host_ed25519" <<<y >/dev/null
  ssh-keygen -q -t rsa -b 2048 -N '' -C lab-host -f "$dir/host_rsa" <<<y >/dev/null
  ssh-keygen -q -t ed25519 -N '' -C lab-admin -f "$dir/admin_ed25519" <<<y >/dev/null
  ssh-keygen -q -t rsa -b 2048 -N '' -C lab-admin -f "$dir/admin_rsa" <<<y >/dev/null
  ssh-keygen -q -t ecdsa -b 256 -N '' -C lab-admin -f "$dir/admin_ecdsa" <<<y >/dev/null
  # And a key protected by a passphrase (the lab's prefix), for -KeyFile with -Credential.
  ssh-keygen -q -t ed25519 -N "$P-passphrase" -C lab-admin -f "$dir/admin_protected" <<<y >/dev/null
  cat "$dir/admin_ed25519.pub" "$dir/admin_rsa.pub" "$dir/admin_ecdsa.pub" "$dir/admin_protected.pub" > "$dir/authorized_keys"
  echo "192.0.2.2 $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" > "$dir/known_hosts"
  echo "192.0.2.2 $(cut -d' ' -f1,2 "$dir/host_rsa.pub")" > "$dir/known_hosts_rsa"
  ssh-keygen -l -E sha256 -f "$dir/host_ed25519.pub" | awk '{print $2}' > "$dir/host_fingerprint"
  if [ "${LAB_MAIN:-debian}" = openwrt ]; then
    openwrt_router main 192.0.2.1 "$dir" "$OPENWRT_MAIN_FIREWALL" main_ "$OPENWRT_MAIN_NETWORKS" || return 1
  else
    debian_main_sshd "$dir" || return 1
  fi
  if [ "${LAB_ROUTER:-debian}" = openwrt ]; then
    openwrt_router byp 192.0.2.2 "$dir" "$OPENWRT_BYPASS_FIREWALL" || return 1
    start_services "$@"
    return 0
  fi
  cat > "$dir/sshd_config" <<CONF
ListenAddress 192.0.2.2
Port 22
HostKey $dir/host_ed25519
HostKey $dir/host_rsa
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitEmptyPasswords no
CONF
  # The router gets a private copy of /etc (its sshd, and every command run over SSH, live in a
  # mount namespace of their own), so what BypassNat installs there never touches this machine; the same
  # for /run/bypassnat, where the router-side lock lives, so labs running at once never share a lock.
  cp -a /etc "$dir/etc"
  mkdir -p "$dir/etc/systemd/system"
  # A non-root admin who may run only the netfilter tools through sudo, without a password.
  if [ -x /usr/bin/sudo ]; then
    echo 'bnadmin:x:4242:4242:BypassNat lab admin:/tmp:/bin/sh' >> "$dir/etc/passwd"
    echo 'bnadmin:x:4242:' >> "$dir/etc/group"
    # A password too, for -Credential: random per lab, kept beside the lab's keys.
    head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/bnadmin_password"
    echo "bnadmin:$(openssl passwd -6 -stdin < "$dir/bnadmin_password"):19000:0:99999:7:::" >> "$dir/etc/shadow"
    mkdir -p "$dir/etc/sudoers.d"
    # mkdir, touch and tee only with the arguments of the router-side lock in /run/bypassnat, which
    # this login cannot make itself (so -Persist's files in /etc stay refused, as the tests expect).
    echo 'bnadmin ALL=(root) NOPASSWD: /usr/sbin/nft, /usr/sbin/iptables-save, /usr/sbin/iptables-restore, /usr/sbin/conntrack, /usr/bin/mkdir -p /run/bypassnat, /usr/bin/touch /run/bypassnat/lock, /usr/bin/tee /run/bypassnat/holder, /usr/bin/tee /run/bypassnat/generation' \
      > "$dir/etc/sudoers.d/bypassnat-lab"
    chmod 0440 "$dir/etc/sudoers.d/bypassnat-lab"
  fi
  ns byp unshare --mount --propagation private sh -c 'mkdir -p "$1/run-etc" /run/bypassnat && chmod 0755 "$1/run-etc" && mount --bind "$1/run-etc" /run/bypassnat && mount --bind "$1/etc" /etc && exec /usr/sbin/sshd -f "$1/sshd_config"' sh "$dir" \
    </dev/null >/dev/null 2>&1

  start_services "$@"

  if [ "${LAB_SECOND_BYPASS:-0}" = 1 ]; then second_bypass "$dir" || return 1; fi

  # Wait until sshd listens, so the first test does not race it.
  wait_sshd byp 192.0.2.2
}

# A proxy that captures LAN traffic as Clash/OpenClash do in TPROXY (fake-ip) and TUN modes: every
# packet from the LAN to a non-LAN address goes to the proxy, in mangle PREROUTING (tproxy-iptables:
# iptables TPROXY; tproxy-nft: a native nft table's tproxy statement) with the policy routing TPROXY
# needs (fwmark 1 -> a table whose default route is local), or (tun) by policy routing into a tun
# device. The TPROXY modes have a transparent listener on port 7893 that answers "proxy tcp ADDRESS"
# with the address the client asked for, so a test can see what was captured; a tun device with
# nobody reading it swallows what it is given.
capture_proxy() {
  local dir=$1 mode=$2 net
  case $mode in
    tproxy-iptables)
      if [ "${LAB_IPV6:-0}" = 1 ]; then
        ns byp ip6tables -t mangle -N CLASH_TPROXY
        for net in ::1/128 fe80::/10 ff00::/8 2001:db8:1::/64 2001:db8:2::/64; do
          ns byp ip6tables -t mangle -A CLASH_TPROXY -d "$net" -j RETURN
        done
        ns byp ip6tables -t mangle -A CLASH_TPROXY -p tcp -j TPROXY --on-port 7893 --tproxy-mark 0x1/0x1
        ns byp ip6tables -t mangle -A CLASH_TPROXY -p udp -j TPROXY --on-port 7893 --tproxy-mark 0x1/0x1
        ns byp ip6tables -t mangle -A PREROUTING -j CLASH_TPROXY
        ns byp ip -6 rule add fwmark 0x1/0x1 lookup 100
        ns byp ip -6 route add local ::/0 dev lo table 100
      fi
      ns byp iptables -t mangle -N CLASH_TPROXY
      for net in 0.0.0.0/8 127.0.0.0/8 192.0.2.0/24 224.0.0.0/4 255.255.255.255/32; do
        ns byp iptables -t mangle -A CLASH_TPROXY -d "$net" -j RETURN
      done
      ns byp iptables -t mangle -A CLASH_TPROXY -p tcp -j TPROXY --on-port 7893 --tproxy-mark 0x1/0x1
      ns byp iptables -t mangle -A CLASH_TPROXY -p udp -j TPROXY --on-port 7893 --tproxy-mark 0x1/0x1
      ns byp iptables -t mangle -A PREROUTING -j CLASH_TPROXY
      ;;
    tproxy-nft)
      ns byp nft -f - <<'NFT'
table inet clash_tproxy {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ip daddr { 0.0.0.0/8, 127.0.0.0/8, 192.0.2.0/24, 224.0.0.0/4, 255.255.255.255 } return
		meta l4proto { tcp, udp } tproxy ip to :7893 meta mark set 0x1 accept
	}
}
NFT
      # IPv6 in the same chain, as OpenClash's and mihomo's inet tables do.
      if [ "${LAB_IPV6:-0}" = 1 ]; then
        ns byp nft add rule inet clash_tproxy prerouting 'ip6 daddr { ::1, fe80::/10, ff00::/8, 2001:db8:1::/64, 2001:db8:2::/64 } return'
        ns byp nft add rule inet clash_tproxy prerouting 'meta l4proto { tcp, udp } meta nfproto ipv6 tproxy ip6 to :7893 meta mark set 0x1 accept'
        ns byp ip -6 rule add fwmark 0x1/0x1 lookup 100
        ns byp ip -6 route add local ::/0 dev lo table 100
      fi
      ;;
    tun)
      ns byp ip tuntap add dev tun0 mode tun
      ns byp ip link set tun0 up
      ns byp ip route add default dev tun0 table 2022
      # As a TUN proxy's auto-route does: the LAN's own routes first, everything else into the tunnel.
      ns byp ip rule add lookup main suppress_prefixlength 0 pref 9000
      ns byp ip rule add iif lan0 lookup 2022 pref 9001
      return 0
      ;;
    *) echo "lab: unknown LAB_PROXY $mode" >&2; return 1 ;;
  esac
  ns byp ip rule add fwmark 0x1/0x1 lookup 100
  ns byp ip route add local 0.0.0.0/0 dev lo table 100
  cat > "$dir/tproxy_listener.py" <<'PY'
import socket, threading
IP_TRANSPARENT = 19
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
server.bind(("0.0.0.0", 7893))
server.listen(64)
def serve(conn):
    with conn:
        # The local address of a TPROXY-captured connection is where the client was going.
        conn.sendall(("proxy tcp %s\n" % conn.getsockname()[0]).encode())
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
# Clash also listens for UDP: an nft tproxy statement that finds no socket lets the packet go on
# (iptables TPROXY drops it), so without this socket nft would not capture UDP at all.
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
udp.bind(("0.0.0.0", 7893))
def swallow():
    while True:
        udp.recv(65535)
threading.Thread(target=swallow, daemon=True).start()
# The same for IPv6 (IPV6_TRANSPARENT), when the lab has it.
def accept(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
import os
if os.environ.get("LAB_IPV6") == "1":
    IPV6_TRANSPARENT = 75
    server6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    server6.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    server6.bind(("::", 7893))
    server6.listen(64)
    threading.Thread(target=accept, args=(server6,), daemon=True).start()
    udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    udp6.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    udp6.bind(("::", 7893))
    def swallow6():
        while True:
            udp6.recv(65535)
    threading.Thread(target=swallow6, daemon=True).start()
accept(server)
PY
  ns byp env "LAB_IPV6=${LAB_IPV6:-0}" /usr/bin/python3 "$dir/tproxy_listener.py" </dev/null >/dev/null 2>&1 &
  for _ in $(seq 50); do
    ns byp ss -ltn 2>/dev/null | grep -q ':7893 ' && return 0
    sleep 0.1
  done
  echo "lab: the proxy's listener did not start" >&2
  return 1
}

# sshd on a Debian main router, with its own host key and its own private /etc, listening on its
# LAN and WAN addresses (the WAN one for the lockout test).
debian_main_sshd() {
  local dir=$1
  ssh-keygen -q -t ed25519 -N '' -C lab-main -f "$dir/main_host_ed25519" <<<y >/dev/null
  for a in 192.0.2.1 203.0.113.1; do echo "$a $(cut -d' ' -f1,2 "$dir/main_host_ed25519.pub")"; done > "$dir/main_known_hosts"
  cat > "$dir/main_sshd_config" <<CONF
ListenAddress 192.0.2.1
ListenAddress 203.0.113.1
Port 22
HostKey $dir/main_host_ed25519
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/main_sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
CONF
  cp -a /etc "$dir/etc-main"
  mkdir -p "$dir/etc-main/systemd/system"
  ns main unshare --mount --propagation private sh -c 'mkdir -p "$1/run-etc-main" /run/bypassnat && chmod 0777 "$1/run-etc-main" && mount --bind "$1/run-etc-main" /run/bypassnat && mount --bind "$1/etc-main" /etc && exec /usr/sbin/sshd -f "$1/main_sshd_config"' sh "$dir" \
    </dev/null >/dev/null 2>&1
  wait_sshd main 192.0.2.1
}

wait_sshd() {
  for _ in $(seq 50); do
    ns "$1" ss -ltn 2>/dev/null | grep -q "$2:22 " && return 0
    sleep 0.1
  done
  echo "lab: sshd did not start on $1" >&2
  return 1
}

# Opt-in (LAB_SECOND_BYPASS=1), for tests of several routers at once: a second bypass router
# "byp2" at 192.0.2.3, set up like the first (iptables proxy rules, its own ed25519 host key listed
# in the same known_hosts file, the same authorized admin keys, a private /etc of its own), with no
# device behind it by default. Labs without it pay nothing.
second_bypass() {
  local dir=$1
  ip netns add "$P-byp2"
  ns byp2 ip link set lo up
  plug byp2 lan0 b2; ns byp2 ip addr add 192.0.2.3/24 dev lan0
  ns byp2 ip route add default via 192.0.2.1
  ns byp2 sysctl -qw net.ipv4.ip_forward=1
  for c in all default lan0; do ns byp2 sysctl -qw "net.ipv4.conf.$c.send_redirects=0"; done
  ns byp2 iptables -t nat -A POSTROUTING -o lan0 -j MASQUERADE
  ns byp2 iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
  ssh-keygen -q -t ed25519 -N '' -C lab-host2 -f "$dir/host2_ed25519" <<<y >/dev/null
  echo "192.0.2.3 $(cut -d' ' -f1,2 "$dir/host2_ed25519.pub")" >> "$dir/known_hosts"
  sed -e 's/^ListenAddress .*/ListenAddress 192.0.2.3/' -e "s#^HostKey $dir/host_ed25519\$#HostKey $dir/host2_ed25519#" \
    -e '/host_rsa/d' -e "s#^PidFile .*#PidFile $dir/sshd2.pid#" "$dir/sshd_config" > "$dir/sshd2_config"
  cp -a /etc "$dir/etc2"
  mkdir -p "$dir/etc2/systemd/system"
  ns byp2 unshare --mount --propagation private sh -c 'mkdir -p "$1/run-etc2" /run/bypassnat && chmod 0777 "$1/run-etc2" && mount --bind "$1/run-etc2" /run/bypassnat && mount --bind "$1/etc2" /etc && exec /usr/sbin/sshd -f "$1/sshd2_config"' sh "$dir" \
    </dev/null >/dev/null 2>&1
  wait_sshd byp2 192.0.2.3
}

# The device's services answer with what they saw: protocol, port and the peer address. The TCP
# service then reads what the client sent until it closes: closing with unread data sends a reset,
# which can reach the client before it has read the answer (a flaky test on a loaded machine).
start_services() {
  local svc proto port
  for svc in "$@"; do
    proto=${svc%%:*} port=${svc#*:}
    if [ "$proto" = tcp ]; then
      ns dev socat "TCP4-LISTEN:$port,reuseaddr,fork" \
        SYSTEM:"echo device tcp $port peer \$SOCAT_PEERADDR; cat >/dev/null" </dev/null >/dev/null 2>&1 &
      # ipv6only: without it the IPv6 socket cannot bind beside the IPv4 one (the client sees a reset).
      if [ "${LAB_IPV6:-0}" = 1 ]; then
        ns dev socat "TCP6-LISTEN:$port,ipv6only=1,reuseaddr,fork" \
          SYSTEM:"echo device tcp $port peer \$SOCAT_PEERADDR; cat >/dev/null" </dev/null >/dev/null 2>&1 &
      fi
    else
      ns dev socat "UDP4-RECVFROM:$port,fork" \
        SYSTEM:"read -r line; echo device udp $port peer \$SOCAT_PEERADDR" </dev/null >/dev/null 2>&1 &
      if [ "${LAB_IPV6:-0}" = 1 ]; then
        ns dev socat "UDP6-RECVFROM:$port,ipv6only=1,fork" \
          SYSTEM:"read -r line; echo device udp $port peer \$SOCAT_PEERADDR" </dev/null >/dev/null 2>&1 &
      fi
    fi
  done
}

# IPv6, documentation prefix only (LAB_IPV6=1). Link-local next hops, as router advertisements give
# them, so a prefix change (set_prefix) moves only the global addresses:
#   inet 2001:db8:ff::10 --- 2001:db8:ff::1 [main] 2001:db8:1::1 (fe80::1) --+-- ::2 (fe80::2) [bypass router]
#                                                                            +-- ::20 [device, gateway fe80::2]
#                                                                            +-- ::30 [LAN client, gateway fe80::2]
# The main router is a home router's IPv6 firewall: forward policy DROP, established/related and the
# LAN's own outbound accepted, nothing new inbound (on an OpenWrt main router, firewall4's wan zone). The bypass router drops conntrack INVALID in
# FORWARD. The internet client serves tcp 7000, answering with the address it saw (the bypass
# router's when a proxy carried the connection, the LAN client's when it went straight).
ipv6_lab() {
  local dir=$1 n
  for n in sw inet main byp dev cli cl2 adm; do
    ns "$n" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
      net.ipv6.conf.all.accept_redirects=0 net.ipv6.conf.default.accept_redirects=0
    for i in $(ns "$n" ls /proc/sys/net/ipv6/conf); do
      case $i in all|default) ;; *) ns "$n" sysctl -qw "net.ipv6.conf.$i.accept_ra=0" "net.ipv6.conf.$i.accept_redirects=0" ;; esac
    done
  done
  ns main sysctl -qw net.ipv6.conf.all.forwarding=1
  ns byp sysctl -qw net.ipv6.conf.all.forwarding=1
  ns main ip -6 addr add 2001:db8:ff::1/64 dev wan0 nodad
  ns inet ip -6 addr add 2001:db8:ff::10/64 dev eth0 nodad
  ns inet ip -6 route add default via 2001:db8:ff::1
  ns main ip -6 addr add fe80::1/64 dev lan0 nodad
  ns byp ip -6 addr add fe80::2/64 dev lan0 nodad
  ns byp ip -6 route add default via fe80::1 dev lan0
  ns dev ip -6 route add default via fe80::2 dev eth0
  ns cli ip -6 route add default via fe80::2 dev eth0
  ns cl2 ip -6 route add default via fe80::1 dev eth0
  set_prefix 1
  # An OpenWrt main router's IPv6 policy is firewall4's own: its wan zone rejects what is forwarded in
  # from it (forward 'REJECT'), established and related flows and lan -> wan are accepted.
  if [ "${LAB_MAIN:-debian}" = openwrt ]; then
    OPENWRT_MAIN_FIREWALL="$OPENWRT_MAIN_FIREWALL$OPENWRT_MAIN_ICMPV6"
  else
    ns main ip6tables -P FORWARD DROP
    ns main ip6tables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    ns main ip6tables -A FORWARD -i lan0 -o wan0 -j ACCEPT
  fi
  ns byp ip6tables -A FORWARD -m conntrack --ctstate INVALID -j DROP
  # The default proxy (a nat REDIRECT, as Clash's redir-host mode) for IPv6 too, with a listener that
  # answers "redirect tcp" on 7892, so a test can see what it captured.
  if [ "${LAB_PROXY:-iptables}" = iptables ] && [ "${LAB_ROUTER:-debian}" = debian ]; then
    ns byp ip6tables -t nat -N CLASH
    for n in ::1/128 fe80::/10 ff00::/8 2001:db8:1::/64 2001:db8:2::/64; do
      ns byp ip6tables -t nat -A CLASH -d "$n" -j RETURN
    done
    ns byp ip6tables -t nat -A CLASH -p tcp -j REDIRECT --to-ports 7892
    ns byp ip6tables -t nat -A PREROUTING -i lan0 -p tcp -j CLASH
    ns byp socat "TCP6-LISTEN:7892,ipv6only=1,reuseaddr,fork" SYSTEM:"echo redirect tcp; cat >/dev/null" </dev/null >/dev/null 2>&1 &
  fi
  ns inet socat "TCP6-LISTEN:7000,ipv6only=1,reuseaddr,fork" \
    SYSTEM:"echo inet tcp 7000 peer \$SOCAT_PEERADDR; cat >/dev/null" </dev/null >/dev/null 2>&1 &
}

# The LAN's global addresses under the delegated prefix 2001:db8:N::/64 (the old ones removed).
set_prefix() {
  local n=$1 node dev host n6
  for node in main:lan0:1 byp:lan0:2 dev:eth0:20 cli:eth0:30 cl2:eth0:31; do
    IFS=: read -r host dev n6 <<<"$node"
    ns "$host" ip -6 addr flush dev "$dev" scope global
    ns "$host" ip -6 addr add "2001:db8:$n::$n6/64" dev "$dev" nodad
  done
  ns main ip -6 neigh flush dev lan0
  ns byp ip -6 neigh flush dev lan0
}

# Debian's v2ray as bypass routers run it in TPROXY mode (its guide): a dokodemo-door inbound with
# tproxy on port 12345 for both families, a freedom outbound whose packets carry mark 255, mangle
# PREROUTING sending LAN TCP and UDP to it (the LAN, loopback, multicast and mark 255 excepted), and
# the fwmark 1 routing TPROXY needs. Its access log (DIR/v2ray-access.log) shows what it carried.
v2ray_proxy() {
  local dir=$1 net
  cat > "$dir/v2ray.json" <<JSON
{
  "log": { "loglevel": "warning", "access": "$dir/v2ray-access.log" },
  "inbounds": [ {
    "port": 12345, "listen": "::", "protocol": "dokodemo-door",
    "settings": { "network": "tcp,udp", "followRedirect": true },
    "sniffing": { "enabled": false },
    "streamSettings": { "sockopt": { "tproxy": "tproxy" } }
  } ],
  "outbounds": [ { "protocol": "freedom", "settings": {}, "streamSettings": { "sockopt": { "mark": 255 } } } ]
}
JSON
  ns byp iptables -t mangle -N V2RAY
  for net in 127.0.0.0/8 192.0.2.0/24 224.0.0.0/4 255.255.255.255/32; do
    ns byp iptables -t mangle -A V2RAY -d "$net" -j RETURN
  done
  ns byp iptables -t mangle -A V2RAY -m mark --mark 0xff -j RETURN
  ns byp iptables -t mangle -A V2RAY -p tcp -j TPROXY --on-ip 127.0.0.1 --on-port 12345 --tproxy-mark 1
  ns byp iptables -t mangle -A V2RAY -p udp -j TPROXY --on-ip 127.0.0.1 --on-port 12345 --tproxy-mark 1
  ns byp iptables -t mangle -A PREROUTING -j V2RAY
  ns byp ip rule add fwmark 1 table 100
  ns byp ip route add local 0.0.0.0/0 dev lo table 100
  if [ "${LAB_IPV6:-0}" = 1 ]; then
    ns byp ip6tables -t mangle -N V2RAY
    for net in ::1/128 fe80::/10 ff00::/8 2001:db8:1::/64 2001:db8:2::/64; do
      ns byp ip6tables -t mangle -A V2RAY -d "$net" -j RETURN
    done
    ns byp ip6tables -t mangle -A V2RAY -m mark --mark 0xff -j RETURN
    ns byp ip6tables -t mangle -A V2RAY -p tcp -j TPROXY --on-ip ::1 --on-port 12345 --tproxy-mark 1
    ns byp ip6tables -t mangle -A V2RAY -p udp -j TPROXY --on-ip ::1 --on-port 12345 --tproxy-mark 1
    ns byp ip6tables -t mangle -A PREROUTING -j V2RAY
    ns byp ip -6 rule add fwmark 1 table 100
    ns byp ip -6 route add local ::/0 dev lo table 100
  fi
  ns byp v2ray -config "$dir/v2ray.json" </dev/null >"$dir/v2ray.log" 2>&1 &
  for _ in $(seq 100); do
    ns byp ss -ltn 2>/dev/null | grep -q ':12345 ' && return 0
    sleep 0.1
  done
  echo "lab: v2ray did not start: $(cat "$dir/v2ray.log")" >&2
  return 1
}

case $cmd in
  up) dir=${3:?dir required}; shift 3; down; if ! up "$dir" "$@"; then down; exit 1; fi ;;
  prefix) set_prefix "${3:?prefix number required}" ;;
  down) down ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
