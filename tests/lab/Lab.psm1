# PowerShell side of the network-namespace lab (lab.sh builds it): start and stop a lab, run
# commands in its namespaces, run the module on the admin workstation, and send test traffic.
Set-StrictMode -Version Latest

$LabScript = Join-Path $PSScriptRoot 'lab.sh'

function Get-OpenWrtLabCache {
    <#
    Where build.ps1 OpenWrtLab puts OpenWrt's uci, ucode and firewall4 for the lab (outside the clone:
    OpenWrt's code is not part of this repository): $env:BYPASSNAT_OPENWRT_CACHE, or
    $XDG_CACHE_HOME/bypassnat/openwrt, or ~/.cache/bypassnat/openwrt.
    #>
    if ($env:BYPASSNAT_OPENWRT_CACHE) { return $env:BYPASSNAT_OPENWRT_CACHE }
    $base = if ($env:XDG_CACHE_HOME) { $env:XDG_CACHE_HOME } else { Join-Path $HOME '.cache' }
    Join-Path $base 'bypassnat/openwrt'
}

function Get-OpenWrtLabSkipReason {
    <# Why the OpenWrt tests cannot run here, with the command that fixes it; $null when they can. #>
    $cache = Get-OpenWrtLabCache
    if (Test-Path (Join-Path $cache 'SOURCES')) { return $null }
    "the OpenWrt lab cache $cache does not exist; build it with: dotnet pwsh ./build.ps1 OpenWrtLab -Source <folder with uci, libubox, ucode and firewall4 sources>"
}

function Start-BypassLab {
    <# Builds a lab with a per-run prefix; the device serves every SERVICE ("tcp:80", "udp:9000"). #>
    param(
        [Parameter(Mandatory)] [string] $ModulePath,
        [string[]] $Service = @(),
        # How the bypass router's Clash-like proxy is set up: iptables rules or a native nft ruleset (both
        # a nat REDIRECT), or capturing all LAN traffic as in Clash's TPROXY (iptables or nft) and TUN modes.
        # v2ray: Debian's v2ray in TPROXY mode (iptables, and ip6tables with -IPv6).
        [ValidateSet('iptables', 'nft', 'tproxy-iptables', 'tproxy-nft', 'tun', 'v2ray')] [string] $Proxy = 'iptables',
        # What the bypass router runs: Debian (sshd, bash) or OpenWrt (openwrt.sh: firewall4, Dropbear,
        # BusyBox ash; its proxy is a native nft table, or with -Proxy v2ray v2ray's TPROXY through
        # iptables-nft beside firewall4). OpenWrt needs build.ps1 OpenWrtLab.
        [ValidateSet('debian', 'openwrt')] [string] $Router = 'debian',
        # What the main router runs: Debian (iptables, set by Set-MainRouterForward) or OpenWrt
        # (firewall4 with wan and lan zones, Dropbear at 192.0.2.1; its SSH splat is MainSsh).
        [ValidateSet('debian', 'openwrt')] [string] $Main = 'debian',
        # Added to the SSH splat, e.g. @{ Backend = 'Nftables' }.
        [hashtable] $CommandOptions = @{},
        # A second bypass router (namespace byp2, 192.0.2.3, sshd, key in the same known_hosts).
        [switch] $SecondBypassRouter,
        # IPv6 as well (lab.sh's ipv6_lab): the delegated prefix 2001:db8:1::/64, the bypass router the LAN's
        # IPv6 gateway, a home router's IPv6 firewall on the main router (see Set-LabPrefix).
        [switch] $IPv6
    )
    $prefix = 'bn' + [guid]::NewGuid().ToString('N').Substring(0, 6)
    $dir = Join-Path ([IO.Path]::GetTempPath()) "bypassnat-lab-$prefix"
    $env:LAB_PROXY = $Proxy
    $env:LAB_SECOND_BYPASS = if ($SecondBypassRouter) { '1' } else { '0' }
    $env:LAB_ROUTER = $Router
    & env "BYPASSNAT_OPENWRT_CACHE=$(Get-OpenWrtLabCache)" "LAB_MAIN=$Main" "LAB_IPV6=$(if ($IPv6) { 1 } else { 0 })" bash $LabScript up $prefix $dir @Service | Out-Host
    Remove-Item Env:LAB_PROXY, Env:LAB_SECOND_BYPASS, Env:LAB_ROUTER
    if ($LASTEXITCODE -ne 0) { throw "The lab did not come up (lab.sh exit code $LASTEXITCODE)." }
    [pscustomobject]@{
        Prefix      = $prefix
        Router      = $Router
        Dir         = $dir
        ModulePath  = (Resolve-Path $ModulePath).Path
        Fingerprint = (Get-Content (Join-Path $dir 'host_fingerprint') -Raw).Trim()
        # Splatted into every cmdlet that talks to the bypass router.
        Ssh         = @{
            ComputerName   = '192.0.2.2'
            KeyFile        = Join-Path $dir 'admin_ed25519'
            KnownHostsFile = Join-Path $dir 'known_hosts'
        } + $CommandOptions
        # The same for the main router's hop (its own SSH server, host key and /etc; Debian or OpenWrt).
        MainSsh     = @{
            ComputerName   = '192.0.2.1'
            KeyFile        = Join-Path $dir 'admin_ed25519'
            KnownHostsFile = Join-Path $dir 'main_known_hosts'
            Role           = 'Main'
        } + $CommandOptions
    }
}

function Stop-BypassLab {
    param([Parameter(Mandatory)] [AllowNull()] $Lab)
    if ($null -eq $Lab) { return }
    & bash $LabScript down $Lab.Prefix | Out-Host
    # rm, not Remove-Item: the routers' private /etc copies hold an mtab link into /proc that
    # Remove-Item leaves behind (seen: a folder per lab left in /tmp).
    & rm -rf -- $Lab.Dir
}

function Set-LabPrefix {
    <# Moves an -IPv6 lab's LAN to the delegated prefix 2001:db8:N::/64, as a PPPoE reconnect does (lab.sh prefix). #>
    param([Parameter(Mandatory)] $Lab, [Parameter(Mandatory)] [ValidateRange(1, 254)] [int] $Number)
    & bash $LabScript prefix $Lab.Prefix $Number | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "lab.sh prefix $Number failed ($LASTEXITCODE)" }
}

function Invoke-LabCommand {
    <#
    Runs a command line in one of the lab's namespaces (inet, main, byp, dev, cli, cl2, adm) and returns
    its output lines. The line is split at spaces: lab commands need no quoting.
    #>
    param(
        [Parameter(Mandatory)] $Lab,
        [Parameter(Mandatory)] [ValidateSet('inet', 'main', 'byp', 'dev', 'cli', 'cl2', 'adm', 'byp2')] [string] $Node,
        [Parameter(Mandatory)] [string] $CommandLine
    )
    $words = $CommandLine -split ' +'
    $output = & ip netns exec "$($Lab.Prefix)-$Node" @words 2>&1
    if ($LASTEXITCODE -ne 0) { throw "'$CommandLine' on $Node failed ($LASTEXITCODE): $output" }
    $output | ForEach-Object { "$_" }
}

function Invoke-LabRouter {
    <#
    Runs a shell command line on the bypass router (or with -Router Main the main router) as its own
    processes see it: in its network namespace and in the mount namespace of its sshd, where /etc is
    the router's private copy.
    #>
    param(
        [Parameter(Mandatory)] $Lab,
        [Parameter(Mandatory)] [string] $CommandLine,
        # The bypass router (Bypass or byp), the main router (Main or main), or the second bypass router (byp2).
        [ValidateSet('Bypass', 'Main', 'byp', 'main', 'byp2')] [string] $Router = 'Bypass',
        # The main router: the same as -Router Main.
        [switch] $Main
    )
    if ($Main) { $Router = 'Main' }
    $pidFile = switch ($Router) { 'Main' { 'main_sshd.pid' } 'byp2' { 'sshd2.pid' } default { 'sshd.pid' } }
    $sshd = (Get-Content (Join-Path $Lab.Dir $pidFile) -Raw).Trim()
    $output = & nsenter --target $sshd --mount --net -- sh -c $CommandLine 2>&1
    if ($LASTEXITCODE -ne 0) { throw "'$CommandLine' on the $($Router.ToLower()) router failed ($LASTEXITCODE): $output" }
    $output | ForEach-Object { "$_" }
}

function Get-LabNatTable {
    <#
    A router's NAT rules (the bypass router's, or -Node main), both kinds: iptables-save -t nat
    (without its timestamp comments) and nft list ruleset. Comparing it before and after shows any
    change at all.
    #>
    param([Parameter(Mandatory)] $Lab, [ValidateSet('byp', 'main', 'byp2')] [string] $Node = 'byp')
    $iptables = Invoke-LabCommand $Lab $Node 'iptables-save -t nat' | Where-Object { $_ -notmatch '^#' } | ForEach-Object { $_ -replace ' \[\d+:\d+\]$' }
    # Stateless (-s): no counters, which traffic changes; no comment lines, which iptables-nft adds at will.
    $nft = Invoke-LabCommand $Lab $Node 'nft -s list ruleset' | Where-Object { $_ -notmatch '^\s*#' }
    (@($iptables) + @($nft)) -join "`n"
}

function Invoke-AsAdmin {
    <#
    Runs a script block in a fresh PowerShell on the admin workstation (the lab's adm namespace)
    with the module imported. Inside, $Lab is this lab and $Params the given hashtable. Returns
    the output objects (deserialized), the errors (FullyQualifiedErrorId, Category, Message, Target)
    and the warning messages as Output, Errors and Warnings, and what it printed as Console.
    #>
    param(
        [Parameter(Mandatory)] $Lab,
        [Parameter(Mandatory)] [scriptblock] $ScriptBlock,
        [hashtable] $Params = @{}
    )
    $work = Join-Path $Lab.Dir ('step-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory $work | Out-Null
    $Lab | Export-Clixml (Join-Path $work 'lab.xml')
    $Params | Export-Clixml (Join-Path $work 'params.xml')
    $script = @"
`$ErrorActionPreference = 'Continue'
Import-Module '$($Lab.ModulePath)/BypassNat.psd1'
`$Lab = Import-Clixml '$work/lab.xml'
`$Params = Import-Clixml '$work/params.xml'
# The tests' CSVs are each router's whole set, as in the scheduled script: a step runs with
# -NonInteractive, where removing forwards not in the input would otherwise be refused
# (BypassNat.RemovalNotConfirmed). The tests of that question remove this default.
`$PSDefaultParameterValues['Invoke-BypassForwardApply:RemoveUnlisted'] = `$true
`$records = [System.Collections.Generic.List[object]]::new()
# Errors and warnings travel as plain objects: a deserialized ErrorRecord loses its CategoryInfo.
function Save-Record(`$record) {
    if (`$record -is [System.Management.Automation.ErrorRecord]) {
        `$record = [pscustomobject]@{
            PSTypeName = 'Lab.Error'; FullyQualifiedErrorId = `$record.FullyQualifiedErrorId
            Category = "`$(`$record.CategoryInfo.Category)"; Message = `$record.Exception.Message; Target = "`$(`$record.TargetObject)"
        }
    } elseif (`$record -is [System.Management.Automation.WarningRecord]) {
        `$record = [pscustomobject]@{ PSTypeName = 'Lab.Warning'; Message = `$record.Message }
    }
    `$records.Add(`$record)
}
try {
    & { $ScriptBlock } 2>&1 3>&1 | ForEach-Object { Save-Record `$_ }
} catch {
    Save-Record `$_
}
Export-Clixml -InputObject `$records.ToArray() -Path '$work/result.xml' -Depth 5
"@
    Set-Content (Join-Path $work 'step.ps1') $script
    $pwsh = Join-Path $PSHOME 'pwsh.dll'
    $console = & ip netns exec "$($Lab.Prefix)-adm" dotnet $pwsh -NoProfile -NonInteractive -File (Join-Path $work 'step.ps1') 2>&1
    if (-not (Test-Path "$work/result.xml")) { throw "The admin step wrote no result: $console" }
    # The list was saved as one object; enumerate it back into its records.
    $records = @(Import-Clixml "$work/result.xml" | ForEach-Object { $_ })
    Remove-Item $work -Recurse -Force
    $isError = { $_.PSObject.TypeNames -contains 'Deserialized.Lab.Error' }
    $isWarning = { $_.PSObject.TypeNames -contains 'Deserialized.Lab.Warning' }
    [pscustomobject]@{
        Output   = @($records | Where-Object { -not (& $isError) -and -not (& $isWarning) })
        Errors   = @($records | Where-Object $isError)
        Warnings = @($records | Where-Object $isWarning | ForEach-Object Message)
        Console  = "$console"
    }
}

function Set-MainRouterForward {
    <#
    Replaces the main router's port forwards: each forward's ExternalPort on the WAN to
    BypassAddress:BypassPort (the double forward), or with -Direct straight to the device (the
    seed's broken setup). On a real network this is the main router's web GUI.
    #>
    param(
        [Parameter(Mandatory)] $Lab,
        [Parameter(Mandatory)] [object[]] $Forward,
        [switch] $Direct
    )
    Invoke-LabCommand $Lab main 'iptables -t nat -F PREROUTING' | Out-Null
    foreach ($f in $Forward) {
        $ext = "$($f.ExternalPort)"
        $address = if ($Direct) { $f.InternalAddress } else { $f.BypassAddress }
        $ports = if ($Direct) { "$($f.InternalPort)" } else { "$($f.BypassPort)" }
        $start = $ext.Split('-')[0]
        $target = if ($ports.Contains('-')) { "${address}:$ports/$start" } else { "${address}:$ports" }
        foreach ($proto in @(switch ("$($f.Protocol)") { 'Tcp' { 'tcp' } 'Udp' { 'udp' } default { 'tcp'; 'udp' } })) {
            Invoke-LabCommand $Lab main "iptables -t nat -A PREROUTING -i wan0 -p $proto --dport $($ext.Replace('-', ':')) -j DNAT --to-destination $target" | Out-Null
        }
    }
}

function Send-LabRequest {
    <#
    Sends one line over TCP or UDP from a lab node and returns the first line of the answer, or
    $null when nothing came back in time.
    #>
    param(
        [Parameter(Mandatory)] $Lab,
        [Parameter(Mandatory)] [ValidateSet('tcp', 'udp')] [string] $Protocol,
        [Parameter(Mandatory)] [string] $Address,
        [Parameter(Mandatory)] [int] $Port,
        [string] $From = 'inet',
        [int] $SourcePort = 0,
        # One of the node's own addresses to send from (its first one otherwise).
        [string] $SourceAddress,
        [int] $TimeoutSeconds = 3
    )
    # An IPv6 address (it has colons) goes in brackets, over TCP6/UDP6.
    $family, $hostPart = if ($Address.Contains(':')) { '6', "[$Address]" } else { '4', $Address }
    $spec = if ($Protocol -eq 'tcp') { "TCP${family}:${hostPart}:$Port,connect-timeout=$TimeoutSeconds" } else { "UDP${family}:${hostPart}:$Port" }
    if ($SourceAddress) { $spec += if ($SourceAddress.Contains(':')) { ",bind=[$SourceAddress]" } else { ",bind=$SourceAddress" } }
    if ($SourcePort) { $spec += ",sourceport=$SourcePort,reuseaddr" }
    # A refusal that comes back at once gets one more try: on a loaded machine the first packet can
    # race the last step of a change. A silent path (the bug) times out and is not tried again.
    foreach ($attempt in 1..2) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        # -t: after sending, wait as long for the answer (socat's default is 0.5 s, which a loaded
        # machine's forking device service can miss, so a working forward looked broken).
        $answer = 'hello' | & timeout ($TimeoutSeconds + 2) ip netns exec "$($Lab.Prefix)-$From" socat "-T$TimeoutSeconds" "-t$TimeoutSeconds" - $spec 2>$null
        $line = @($answer | Where-Object { $_ }) | Select-Object -First 1
        if ($line) { return "$line".Trim() }
        if ($clock.Elapsed.TotalSeconds -ge 1) { break }
        Start-Sleep -Milliseconds 300
    }
    $null
}

function Set-LabRouterFault {
    <#
    Makes one of the bypass router's tools misbehave, in its own mount namespace only: the real binary
    is copied aside and a wrapper is bind-mounted over it. Faults, for the tool's load (nft -f,
    iptables-restore): RefusePart adds one rule the kernel must refuse to the same transaction;
    LoadNothing reads the ruleset and reports success without loading it; Slow touches
    <lab>/fault-started and waits -Seconds (5) before loading it; BlockNewSsh loads it, and after the first
    load that succeeds makes the router drop every NEW TCP connection from the admin workstation to
    its SSH port (an nft table of its own, labfault; connections already open keep working), as a
    change that locks the admin out would.
    #>
    param(
        [Parameter(Mandatory)] $Lab,
        [Parameter(Mandatory)] [ValidateSet('nft', 'iptables-restore')] [string] $Tool,
        [Parameter(Mandatory)] [ValidateSet('RefusePart', 'LoadNothing', 'Slow', 'BlockNewSsh')] [string] $Fault,
        [ValidateRange(1, 600)] [int] $Seconds = 5,
        # The bypass router's tool, or with Main the main router's.
        [ValidateSet('Bypass', 'Main')] [string] $Router = 'Bypass'
    )
    $target = (Invoke-LabRouter $Lab -Router $Router "readlink -f `$(command -v $Tool || echo /usr/sbin/$Tool)" | Select-Object -First 1).Trim()
    $real = Join-Path $Lab.Dir "real-$Router-$Tool"
    $wrapper = Join-Path $Lab.Dir "fault-$Router-$Tool"
    Remove-Item (Join-Path $Lab.Dir 'fault-started'), (Join-Path $Lab.Dir 'fault-fired') -ErrorAction Ignore
    Copy-Item $target $real -Force
    # nft takes the ruleset from "-f -"; the iptables binary is a multi-call one, called by name.
    $run = if ($Tool -eq 'nft') { "`"$real`"" } else { "`"$real`" iptables-restore" }
    $passThrough = if ($Tool -eq 'nft') {
        "case `" `$* `" in *' -f '*) ;; *) exec `"$real`" `"`$@`" ;; esac"
    } else {
        "name=`$(basename `"`$0`"); [ `"`$name`" = iptables-restore ] || exec `"$real`" `"`$name`" `"`$@`""
    }
    $bad = if ($Tool -eq 'nft') { "{ cat; echo 'add rule ip bypassnat prerouting jump bypassnat_no_such_chain'; }" }
           else { "sed 's/^COMMIT`$/-A BYPASSNAT_PREROUTING -j BYPASSNAT_NO_SUCH_CHAIN\nCOMMIT/'" }
    $action = switch ($Fault) {
        'RefusePart' { "$bad | $run `"`$@`"" }
        'LoadNothing' { 'cat >/dev/null; exit 0' }
        'Slow' { "touch '$($Lab.Dir)/fault-started'; sleep $Seconds; exec $run `"`$@`"" }
        'BlockNewSsh' {
            $nft = if ($Tool -eq 'nft') { "`"$real`"" } else { '/usr/sbin/nft' }
            "$run `"`$@`" || exit `$?`n" +
            "[ -e '$($Lab.Dir)/fault-fired' ] && exit 0`n" +
            "touch '$($Lab.Dir)/fault-fired'`n" +
            "$nft -f - <<'LAB_BLOCK'`ntable ip labfault {`n`tchain input {`n`t`ttype filter hook input priority -10;`n" +
            "`t`tip saddr 192.0.2.100 tcp dport 22 ct state new drop`n`t}`n}`nLAB_BLOCK`n"
        }
    }
    Set-Content $wrapper "#!/bin/sh`n# BypassNat lab fault: $Fault`n$passThrough`n$action`n" -NoNewline
    & chmod 0755 $wrapper
    Invoke-LabRouter $Lab -Router $Router "mount --bind '$wrapper' '$target'" | Out-Null
    Set-Content (Join-Path $Lab.Dir "fault-target-$Router-$Tool") $target
}

function Remove-LabRouterFault {
    <# Puts the real tool back (see Set-LabRouterFault). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Lab, [Parameter(Mandatory)] [string] $Tool, [ValidateSet('Bypass', 'Main')] [string] $Router = 'Bypass')
    $record = Join-Path $Lab.Dir "fault-target-$Router-$Tool"
    if (-not (Test-Path $record)) { return }
    $target = (Get-Content $record -Raw).Trim()
    # A cut test's slow tool may still be running; a lazy unmount takes effect when it exits.
    Invoke-LabRouter $Lab -Router $Router "umount -l '$target'" | Out-Null
    Remove-Item $record
    # BlockNewSsh's block goes with it.
    Invoke-LabRouter $Lab -Router $Router 'nft delete table ip labfault 2>/dev/null; true' | Out-Null
}

function Stop-LabSshConnections {
    <# Cuts every open SSH connection to the bypass router (its sshd's per-connection processes), as a dropped link would. #>
    param([Parameter(Mandatory)] $Lab)
    $sshd = (Get-Content (Join-Path $Lab.Dir 'sshd.pid') -Raw).Trim()
    & pkill -KILL -P $sshd
}

Export-ModuleMember -Function Set-LabPrefix, Get-OpenWrtLabCache, Get-OpenWrtLabSkipReason, Set-LabRouterFault, Remove-LabRouterFault, Stop-LabSshConnections,
    Start-BypassLab, Stop-BypassLab, Invoke-LabCommand, Invoke-LabRouter, Get-LabNatTable, Invoke-AsAdmin, Set-MainRouterForward, Send-LabRequest
