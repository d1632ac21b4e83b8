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
#   [LAB_PROXY=nft] lab.sh up PREFIX DIR [SERVICE...]   SERVICE is tcp:PORT or udp:PORT, served by the device
#   lab.sh down PREFIX [DIR]            removes every namespace named PREFIX-*, and their processes
set -euo pipefail

cmd=${1:?usage: lab.sh up|down PREFIX [DIR] [SERVICE...]}
P=${2:?prefix required}

ns() { ip netns exec "$P-$1" "${@:2}"; }

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
  ns main iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE

  # Bypass router, as a Clash box is usually set up: with iptables (LAB_PROXY=iptables, the
  # default) or with a native nftables ruleset (LAB_PROXY=nft).
  ns byp sysctl -qw net.ipv4.ip_forward=1
  for c in all default lan0; do ns byp sysctl -qw "net.ipv4.conf.$c.send_redirects=0"; done
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
  # mount namespace of their own), so what BypassNat installs there never touches this machine.
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
    echo 'bnadmin ALL=(root) NOPASSWD: /usr/sbin/nft, /usr/sbin/iptables-save, /usr/sbin/iptables-restore, /usr/sbin/conntrack' \
      > "$dir/etc/sudoers.d/bypassnat-lab"
    chmod 0440 "$dir/etc/sudoers.d/bypassnat-lab"
  fi
  ns byp unshare --mount --propagation private sh -c 'mount --bind "$1/etc" /etc && exec /usr/sbin/sshd -f "$1/sshd_config"' sh "$dir" \
    </dev/null >/dev/null 2>&1

  # sshd on the main router too, with its own host key and its own private /etc.
  ssh-keygen -q -t ed25519 -N '' -C lab-main -f "$dir/main_host_ed25519" <<<y >/dev/null
  for a in 192.0.2.1 203.0.113.1; do echo "$a $(cut -d' ' -f1,2 "$dir/main_host_ed25519.pub")"; done > "$dir/known_hosts_main"
  sed -e 's/^ListenAddress .*/ListenAddress 192.0.2.1\nListenAddress 203.0.113.1/' -e "s|^HostKey .*host_ed25519\$|HostKey $dir/main_host_ed25519|" \
      -e '/host_rsa/d' -e "s|^PidFile .*|PidFile $dir/sshd_main.pid|" "$dir/sshd_config" > "$dir/sshd_config_main"
  cp -a /etc "$dir/etc-main"
  mkdir -p "$dir/etc-main/systemd/system"
  ns main unshare --mount --propagation private sh -c 'mount --bind "$1/etc-main" /etc && exec /usr/sbin/sshd -f "$1/sshd_config_main"' sh "$dir" \
    </dev/null >/dev/null 2>&1

  # The device's services answer with what they saw: protocol, port and the peer address. The TCP
  # service reads the client's line first: closing with it unread would send a RST, which can make
  # the client drop the answer before reading it (a request that "fails" with the path working).
  for svc in "$@"; do
    local proto=${svc%%:*} port=${svc#*:}
    if [ "$proto" = tcp ]; then
      ns dev socat "TCP4-LISTEN:$port,reuseaddr,fork" \
        SYSTEM:"read -r line; echo device tcp $port peer \$SOCAT_PEERADDR" </dev/null >/dev/null 2>&1 &
    else
      ns dev socat "UDP4-RECVFROM:$port,fork" \
        SYSTEM:"read -r line; echo device udp $port peer \$SOCAT_PEERADDR" </dev/null >/dev/null 2>&1 &
    fi
  done

  # Wait until sshd listens, so the first test does not race it.
  for _ in $(seq 50); do
    ns byp ss -ltn 2>/dev/null | grep -q '192.0.2.2:22 ' && ns main ss -ltn 2>/dev/null | grep -q '192.0.2.1:22 ' && return 0
    sleep 0.1
  done
  echo "lab: sshd did not start on the bypass router or the main router" >&2
  return 1
}

case $cmd in
  up) dir=${3:?dir required}; shift 3; down; if ! up "$dir" "$@"; then down; exit 1; fi ;;
  down) down ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
