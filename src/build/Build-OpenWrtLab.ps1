# Builds the OpenWrt lab cache from OpenWrt's own sources. Everything lands in a staging folder beside
# the cache and is renamed into place at the end, so an interrupted build never leaves a cache that
# looks complete. Inside a lab router the cache's root/usr is laid over /usr (see tests/lab/openwrt.sh).
param(
    [Parameter(Mandatory)] [string] $Root,
    # A folder holding the sources of uci, libubox, ucode and firewall4, one folder each.
    [Parameter(Mandatory)] [string] $Source
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$native = Join-Path $PSScriptRoot 'Invoke-NativeCommand.ps1'
$sources = @{}
foreach ($name in 'uci', 'libubox', 'ucode', 'firewall4') {
    $folder = Join-Path $Source $name
    if (-not (Test-Path $folder)) { throw "-Source $Source has no folder '$name' (the sources of $(@{ uci = 'openwrt/uci'; libubox = 'openwrt/libubox'; ucode = 'jow-/ucode'; firewall4 = 'openwrt/firewall4' }[$name]))." }
    $sources[$name] = (Resolve-Path $folder).Path
}
& (Join-Path $PSScriptRoot 'Install-LabPackages.ps1') -OpenWrt
Import-Module (Join-Path $Root 'tests/lab/Lab.psm1') -Force
$cache = Get-OpenWrtLabCache
$work = "$cache.build-$PID"
if (Test-Path $work) { Remove-Item $work -Recurse -Force }
$stage = Join-Path $work 'root'
$clock = [Diagnostics.Stopwatch]::StartNew()
try {
    # Built for /usr, as on OpenWrt: ucode's module search path and the libraries' places are
    # then right inside the lab router without any RPATH.
    $common = @('-DCMAKE_INSTALL_PREFIX=/usr', '-DCMAKE_INSTALL_LIBDIR=lib', "-DCMAKE_PREFIX_PATH=$stage/usr", "-DCMAKE_C_FLAGS=-I$stage/usr/include", "-DCMAKE_EXE_LINKER_FLAGS=-L$stage/usr/lib", "-DCMAKE_SHARED_LINKER_FLAGS=-L$stage/usr/lib", '-DCMAKE_BUILD_TYPE=Release')
    $projects = [ordered]@{
        libubox = @('-DBUILD_LUA=OFF', '-DBUILD_EXAMPLES=OFF')
        uci     = @('-DBUILD_LUA=OFF')
        ucode   = @('-DUCI_SUPPORT=ON', '-DFS_SUPPORT=ON', '-DUBUS_SUPPORT=OFF', '-DNL80211_SUPPORT=OFF', '-DRTNL_SUPPORT=OFF', '-DULOOP_SUPPORT=OFF')
    }
    foreach ($name in $projects.Keys) {
        $build = Join-Path $work "build-$name"
        Write-Host "OpenWrt lab: building $name ..."
        & $native "cmake configure $name" { cmake -S $sources[$name] -B $build @common @($projects[$name]) -Wno-dev | Out-Null }
        & $native "cmake build $name" { cmake --build $build --parallel 2 | Out-Null }
        $env:DESTDIR = $stage
        try { & $native "cmake install $name" { cmake --install $build | Out-Null } } finally { Remove-Item Env:DESTDIR }
    }
    # firewall4 is ucode scripts: its /usr/share files, and /sbin/fw4 (/sbin is /usr/sbin on Debian).
    $fw4 = Join-Path $sources.firewall4 'root'
    New-Item -ItemType Directory -Force (Join-Path $stage 'usr/sbin'), (Join-Path $stage 'usr/share') | Out-Null
    Copy-Item (Join-Path $fw4 'usr/share/*') (Join-Path $stage 'usr/share') -Recurse -Force
    Copy-Item (Join-Path $fw4 'sbin/fw4') (Join-Path $stage 'usr/sbin/fw4')
    # Its /etc files (the init script, the default config) become each lab router's /etc.
    Copy-Item (Join-Path $fw4 'etc') (Join-Path $work 'etc') -Recurse
    # BusyBox applets ahead of Debian's tools, as on OpenWrt where they are the system's tools.
    # Commands that act on the whole machine are left out: a lab router shares this machine's kernel.
    & $native 'busybox --install' { busybox --install -s (Join-Path $stage 'usr/sbin') }
    foreach ($applet in 'reboot', 'halt', 'poweroff', 'init', 'linuxrc', 'swapoff', 'swapon', 'hwclock', 'klogd', 'syslogd') {
        Remove-Item (Join-Path $stage "usr/sbin/$applet") -Force -ErrorAction Ignore
    }
    $busybox = (Get-Command busybox).Source
    foreach ($shell in 'ash', 'sh') { New-Item -ItemType SymbolicLink -Path (Join-Path $stage "usr/bin/$shell") -Target $busybox -Force | Out-Null }
    Remove-Item (Join-Path $stage 'usr/include') -Recurse -Force -ErrorAction Ignore
    $lines = foreach ($name in $sources.Keys | Sort-Object) {
        $commit = & git -C $sources[$name] rev-parse HEAD 2>$null
        "$name $(if ($LASTEXITCODE -eq 0) { $commit } else { '(not a git clone)' }) $($sources[$name])"
    }
    Set-Content (Join-Path $work 'SOURCES') $lines
    if (Test-Path $cache) { Remove-Item $cache -Recurse -Force }
    New-Item -ItemType Directory -Force (Split-Path $cache) | Out-Null
    Move-Item $work $cache
    Write-Host "OpenWrt lab cache ready in $cache ($([int]$clock.Elapsed.TotalSeconds) s)."
} finally {
    if (Test-Path $work) { Remove-Item $work -Recurse -Force }
}
