# Sourced by lab.sh: turns a lab node into an OpenWrt router built from OpenWrt's own code (the cache
# `build.ps1 OpenWrtLab` makes). The router runs in a mount namespace of its own inside its network
# namespace:
#   /usr   an overlay: the lab's stand-ins (tests/lab/openwrt/usr) over the cache (uci, ucode,
#          firewall4, BusyBox applets in /usr/sbin and as /bin/sh, /bin/ash) over this machine's /usr;
#          bash, /usr/local and systemctl are whited out, so no bash is reachable from PATH
#   /etc   a private directory with the router's UCI files in /etc/config, /etc/openwrt_release,
#          firewall4's init script, Dropbear's host keys and root's authorized_keys
#   /run, /tmp, /root   private tmpfs
# Dropbear is its SSH server and BusyBox ash root's shell; firewall4 is started at "boot".
#
# openwrt_router NODE ADDRESS DIR FIREWALL_CONFIG [TAG [NETWORKS]]: NETWORKS, when given, is what the
# ubus stand-in answers for network.interface dump (JSON). DIR is the lab's directory; the admin's public
# keys are in DIR/authorized_keys; the router's host key ends up in DIR/TAGknown_hosts (and its RSA key
# in DIR/TAGknown_hosts_rsa), its fingerprint in DIR/TAGhost_fingerprint, the pid of its Dropbear (whose
# namespaces Invoke-LabRouter enters) in DIR/TAGsshd.pid. FIREWALL_CONFIG is /etc/config/firewall.

openwrt_router() {
  local node=$1 address=$2 dir=$3 firewall=$4 tag=${5:-} networks=${6:-}
  local cache=${BYPASSNAT_OPENWRT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bypassnat/openwrt}
  local here r
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  r="$dir/openwrt-$node"
  [ -f "$cache/SOURCES" ] || { echo "lab: no OpenWrt lab cache in $cache (build.ps1 OpenWrtLab)" >&2; return 1; }
  mkdir -p "$r/etc" "$r/upper/bin" "$r/upper/sbin" "$r/work"

  # /etc: what an OpenWrt image has, and what this machine's binaries need to start (the dynamic
  # linker's cache, Debian's alternatives links for iptables, protocol and service names).
  cp -a "$cache/etc/." "$r/etc/"
  cp -a "$here/openwrt/etc/." "$r/etc/"
  cp -a /etc/ld.so.cache /etc/ld.so.conf /etc/ld.so.conf.d /etc/alternatives /etc/protocols /etc/services "$r/etc/"
  [ -d /etc/iproute2 ] && cp -a /etc/iproute2 "$r/etc/"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/ash' 'nobody:*:65534:65534:nobody:/var:/bin/false' > "$r/etc/passwd"
  printf '%s\n' 'root:*:19000:0:99999:7:::' 'nobody:*:0:0:99999:7:::' > "$r/etc/shadow"
  chmod 0600 "$r/etc/shadow"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' > "$r/etc/group"
  printf '%s\n' /bin/ash /bin/sh > "$r/etc/shells"
  echo "$node-openwrt" > "$r/etc/hostname"
  cat > "$r/etc/openwrt_release" <<'REL'
DISTRIB_ID='OpenWrt'
DISTRIB_RELEASE='SNAPSHOT'
DISTRIB_REVISION='bypassnat-lab'
DISTRIB_TARGET='x86/64'
DISTRIB_ARCH='x86_64'
DISTRIB_DESCRIPTION='OpenWrt SNAPSHOT (BypassNat lab: firewall4, uci and ucode built from source)'
DISTRIB_TAINTS=''
REL
  printf '%s\n' "$firewall" > "$r/etc/config/firewall"
  if [ -n "$networks" ]; then
    mkdir -p "$r/etc/lab-ubus"
    printf '%s\n' "$networks" > "$r/etc/lab-ubus/network.interface.json"
  fi
  # The firewall is enabled, cron is not, and there is no /etc/crontabs: as on a default image.
  mkdir -p "$r/etc/rc.d"
  ln -sf ../init.d/firewall "$r/etc/rc.d/S19firewall"
  rm -rf "$r/etc/crontabs"

  # Dropbear: host keys, and root's keys where OpenWrt keeps them.
  mkdir -p "$r/etc/dropbear"
  dropbearkey -t ed25519 -f "$r/etc/dropbear/dropbear_ed25519_host_key" >/dev/null 2>&1
  dropbearkey -t rsa -s 2048 -f "$r/etc/dropbear/dropbear_rsa_host_key" >/dev/null 2>&1
  cp "$dir/authorized_keys" "$r/etc/dropbear/authorized_keys"
  chmod 0600 "$r/etc/dropbear/authorized_keys"
  dropbearkey -y -f "$r/etc/dropbear/dropbear_ed25519_host_key" | grep '^ssh-' | cut -d' ' -f1,2 > "$dir/${tag}host_ed25519.pub"
  dropbearkey -y -f "$r/etc/dropbear/dropbear_rsa_host_key" | grep '^ssh-' | cut -d' ' -f1,2 > "$dir/${tag}host_rsa.pub"
  echo "$address $(cat "$dir/${tag}host_ed25519.pub")" > "$dir/${tag}known_hosts"
  echo "$address $(cat "$dir/${tag}host_rsa.pub")" > "$dir/${tag}known_hosts_rsa"
  ssh-keygen -l -E sha256 -f "$dir/${tag}host_ed25519.pub" | awk '{print $2}' > "$dir/${tag}host_fingerprint"

  # Whiteouts (character devices 0/0 in the overlay's upper directory) hide what OpenWrt lacks.
  for hidden in bin/bash bin/rbash bin/systemctl local; do mknod "$r/upper/$hidden" c 0 0; done

  ns "$node" unshare --mount --propagation private sh -c '
    set -e
    r=$1 cache=$2 stand_ins=$3 address=$4 pidfile=$5
    mount -t overlay overlay -o "lowerdir=$stand_ins/usr:$cache/root/usr:/usr,upperdir=$r/upper,workdir=$r/work" /usr
    mount --bind "$r/etc" /etc
    mount -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p /run/lock
    echo $$ > "$pidfile"
    mount -t tmpfs -o mode=0700 tmpfs /root
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    # Debian'\''s Dropbear reads root'\''s keys from ~/.ssh; OpenWrt'\''s from /etc/dropbear.
    mkdir -m 0700 /root/.ssh
    ln -s /etc/dropbear/authorized_keys /root/.ssh/authorized_keys
    export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
    cd /
    /etc/init.d/firewall boot
    exec dropbear -F -E -s -r /etc/dropbear/dropbear_ed25519_host_key -r /etc/dropbear/dropbear_rsa_host_key -p "$address:22"
  ' sh "$r" "$cache" "$here/openwrt" "$address" "$dir/${tag}sshd.pid" </dev/null >"$r/dropbear.log" 2>&1 &

  local _
  for _ in $(seq 100); do
    ns "$node" ss -ltn 2>/dev/null | grep -q "$address:22 " && return 0
    sleep 0.1
  done
  echo "lab: Dropbear did not start on the OpenWrt router $node: $(cat "$r/dropbear.log")" >&2
  return 1
}

