# Installs (apt-get, as root on Debian) the packages the network lab needs, and with -OpenWrt also what
# Build-OpenWrtLab.ps1 needs; says which are missing and stops everywhere else.
param([switch] $OpenWrt)
$ErrorActionPreference = 'Stop'
# A command, or (starting with /) a file a -dev package installs -> the Debian package that brings it.
$packages = @{ ip = 'iproute2'; iptables = 'iptables'; nft = 'nftables'; sshd = 'openssh-server'; socat = 'socat'; conntrack = 'conntrack'; 'ssh-keygen' = 'openssh-client'; sudo = 'sudo'; openssl = 'openssl'; python3 = 'python3'; v2ray = 'v2ray' }
if ($OpenWrt) {
    $packages += @{ cmake = 'cmake'; gcc = 'gcc'; make = 'make'; 'pkg-config' = 'pkg-config'; '/usr/include/json-c/json.h' = 'libjson-c-dev'; dropbear = 'dropbear-bin'; dropbearkey = 'dropbear-bin'; busybox = 'busybox'; flock = 'util-linux' }
}
$missing = @($packages.GetEnumerator() | Where-Object {
        if ($_.Key.StartsWith('/')) { -not (Test-Path $_.Key) }
        else { -not (Get-Command $_.Key -ErrorAction Ignore) -and -not (Test-Path "/usr/sbin/$($_.Key)") }
    } | ForEach-Object Value | Sort-Object -Unique)
if ($missing.Count -eq 0) { return }
$isRoot = (& id -u) -eq '0'
if (-not $isRoot -or -not (Test-Path /etc/debian_version)) {
    throw "The lab needs these packages: $($missing -join ', '). Install them (as root on Debian this script does it itself) and run again."
}
Write-Host "Installing $($missing -join ', ') with apt-get ..."
$env:DEBIAN_FRONTEND = 'noninteractive'
& $PSScriptRoot/Invoke-NativeCommand.ps1 'apt-get update' { apt-get update -qq | Out-Host }
& $PSScriptRoot/Invoke-NativeCommand.ps1 'apt-get install' { apt-get install -y -qq --no-install-recommends @missing | Out-Host }
