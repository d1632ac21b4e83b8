# IPv6 forwards (InternalIPv6) through the rest of a forward's life on Linux routers: -Persist (back after
# a flush, a proxy restarting and a reboot), commit-confirmed rollback, drift (Test-BypassForward),
# Remove-BypassForward -Name, IPv6-only rows, Debug-BypassForward, Get-BypassForwardPlan and
# ConvertTo-BypassRuleset, in one lab with the lab's own TPROXY proxy (ip6tables) on the bypass router and
# a home router's IPv6 firewall on the main router; then the bypass router's other proxies (a native nft
# tproxy, a nat REDIRECT), a lab each. The delegated prefix changes between the steps, and the forwards
# keep working without a re-apply.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,InternalIPv6
web6,Tcp,80,192.0.2.2,192.0.2.20,80,::20
game,Udp,9000,192.0.2.2,192.0.2.20,,::20
'@
    # The change the commit-confirmed tests make: one more IPv6 forward, to another port of the device.
    $script:Changed = $Csv + "`nssh6,Tcp,2222,192.0.2.2,192.0.2.20,2222,::20"

    function Format-Peer([string] $Line) {
        if ($null -eq $Line) { return $null }
        [regex]::Replace($Line, '\[([0-9a-fA-F:]+)\]', { param($m) [ipaddress]::Parse($m.Groups[1].Value).ToString() })
    }

    # From the internet client to the device's address under the lab's current delegated prefix; $null when lost.
    function Send-Inbound([ValidateSet('tcp', 'udp')] $Protocol, [int] $Port = 0) {
        if (-not $Port) { $Port = if ($Protocol -eq 'tcp') { 80 } else { 9000 } }
        Format-Peer (Send-LabRequest $Lab -Protocol $Protocol -Address "2001:db8:$($script:PrefixNumber)::20" -Port $Port -TimeoutSeconds 2)
    }

    function Set-Prefix([int] $Number) {
        Set-LabPrefix $Lab $Number
        $script:PrefixNumber = $Number
    }

    # Applies CSV text to both routers (bypass first); returns the run (output, errors, warnings).
    function Invoke-BothApply([string] $Text = $Csv, [hashtable] $Extra = @{}) {
        Invoke-AsAdmin $Lab -Params @{ Csv = $Text; Extra = $Extra } {
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh; $extra = $Params.Extra
            $forwards | Invoke-BypassForwardApply @ssh @extra
            $forwards | Invoke-BypassForwardApply @main @extra
        }
    }

    # BypassNat's IPv6 rules on both routers, jumps included, as ip6tables-save prints them.
    function Get-Ip6Rules {
        $lines = foreach ($at in @(@('main', 'filter'), @('byp', 'raw'), @('byp', 'mangle'))) {
            Invoke-LabCommand $Lab $at[0] "ip6tables-save -t $($at[1])" | Where-Object { $_ -match 'BYPASSNAT6' -and $_ -notmatch '^#' } |
                ForEach-Object { "$($at[0]) $($at[1]) " + ($_ -replace ' \[\d+:\d+\]$') }
        }
        $lines -join "`n"
    }

    # What systemd would run: the ExecStart line of an installed unit, on the bypass or the main router.
    function Invoke-Unit([string] $Router, [string] $Unit) {
        $exec = (Invoke-LabRouter $Lab -Router $Router "grep '^ExecStart=' /etc/systemd/system/$Unit") -replace '^ExecStart=', ''
        Invoke-LabRouter $Lab -Router $Router $exec | Out-Null
    }
}

Describe 'IPv6 forwards on Linux routers: -Persist, commit-confirmed, drift, removal, plan' {
    BeforeAll {
        $script:Lab = $null
        $script:PrefixNumber = 1
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Proxy tproxy-iptables -IPv6 -Service 'tcp:80', 'udp:9000', 'tcp:2222'
    }
    AfterAll {
        if ($script:Lab) { Remove-LabRouterFault $script:Lab -Tool nft -ErrorAction Ignore }
        Stop-BypassLab $script:Lab
    }

    It '-Persist saves the IPv6 rules beside the forwards on both routers' {
        $run = Invoke-BothApply -Extra @{ Persist = $true }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output.Persisted | Should -Be @('systemd', 'systemd')
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        $saved = Invoke-LabRouter $Lab 'cat /etc/bypassnat/ipv6.ip6tables'
        $saved | Should -Contain '-A BYPASSNAT6_RAW -s ::20/::ffff:ffff:ffff:ffff -p udp -m udp --sport 9000 -m comment --comment "bypassnat;name=game;ext=9000;role=reply6" -j CT --notrack'
        @($saved).Count | Should -Be 4
        Invoke-LabRouter $Lab -Router Main 'cat /etc/bypassnat-main/ipv6.ip6tables' |
            Should -Contain '-A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --dport 80 -m comment --comment "bypassnat;name=web6;ext=80;role=pinhole" -j ACCEPT'
    }

    It 'the watch timer puts them back after a flush and the proxy restarting ahead of them; then the prefix changes' {
        $before = Get-Ip6Rules
        # The proxy restarts: its jump first again in mangle PREROUTING; the raw table and the main router's pinholes flushed.
        Invoke-LabCommand $Lab byp 'ip6tables -t mangle -D PREROUTING -j CLASH_TPROXY' | Out-Null
        Invoke-LabCommand $Lab byp 'ip6tables -t mangle -I PREROUTING 1 -j CLASH_TPROXY' | Out-Null
        Invoke-LabCommand $Lab byp 'ip6tables -t raw -F' | Out-Null
        Invoke-LabCommand $Lab main 'ip6tables -F BYPASSNAT6_FORWARD' | Out-Null
        Send-Inbound tcp | Should -BeNullOrEmpty -Because 'the flush took the pinhole and the exemption'

        Invoke-Unit Bypass bypassnat-watch.service
        Invoke-Unit Main bypassnat-main-watch.service
        Get-Ip6Rules | Should -Be $before
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        # Nothing missing now: the next tick leaves them as they are.
        Invoke-Unit Bypass bypassnat-watch.service
        Get-Ip6Rules | Should -Be $before

        Set-Prefix 2
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From cli | Should -Be 'proxy tcp 2001:db8:ff::10' -Because 'the LAN''s own IPv6 traffic is still proxied'
    }

    It 'the boot unit restores them after a reboot emptied ip6tables of BypassNat''s chains' {
        $before = Get-Ip6Rules
        foreach ($step in @(
                @('byp', 'ip6tables -t raw -D PREROUTING -j BYPASSNAT6_RAW'), @('byp', 'ip6tables -t raw -F BYPASSNAT6_RAW'), @('byp', 'ip6tables -t raw -X BYPASSNAT6_RAW'),
                @('byp', 'ip6tables -t mangle -D PREROUTING -j BYPASSNAT6_PROXY'), @('byp', 'ip6tables -t mangle -F BYPASSNAT6_PROXY'), @('byp', 'ip6tables -t mangle -X BYPASSNAT6_PROXY'),
                @('main', 'ip6tables -D FORWARD -j BYPASSNAT6_FORWARD'), @('main', 'ip6tables -F BYPASSNAT6_FORWARD'), @('main', 'ip6tables -X BYPASSNAT6_FORWARD'))) {
            Invoke-LabCommand $Lab $step[0] $step[1] | Out-Null
        }
        Get-Ip6Rules | Should -BeNullOrEmpty
        Send-Inbound tcp | Should -BeNullOrEmpty

        Invoke-Unit Bypass bypassnat.service
        Invoke-Unit Main bypassnat-main.service
        Get-Ip6Rules | Should -Be $before
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
    }

    It 'Test-BypassForward reports a pinhole missing, an exemption changed and a jump no longer first, by forward; an apply repairs them' {
        Invoke-LabCommand $Lab main 'ip6tables -D BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p udp -m udp --dport 9000 -m comment --comment bypassnat;name=game;ext=9000;role=pinhole -j ACCEPT' | Out-Null
        Invoke-LabCommand $Lab byp 'ip6tables -t raw -R BYPASSNAT6_RAW 1 -s ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --sport 81 -m comment --comment bypassnat;name=web6;ext=80;role=reply6 -j CT --notrack' | Out-Null
        Invoke-LabCommand $Lab byp 'ip6tables -t mangle -D PREROUTING -j CLASH_TPROXY' | Out-Null
        Invoke-LabCommand $Lab byp 'ip6tables -t mangle -I PREROUTING 1 -j CLASH_TPROXY' | Out-Null
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh
            foreach ($d in @($forwards | Test-BypassForward @ssh) + @($forwards | Test-BypassForward @main)) { "$($d.ComputerName) $($d.Name) $($d.Kind) $($d.Fields -join ',') | $($d.Detail)" }
            "quiet=$($forwards | Test-BypassForward @main -Quiet)"
        }
        $run.Errors | Should -BeNullOrEmpty
        $lines = @($run.Output | Where-Object { $_ -like '192.0.2.*' })
        $lines.Count | Should -Be 3 -Because ($lines -join "`n")
        $lines | Should -Contain '192.0.2.1 game Different InternalIPv6 | the IPv6 pinhole (BYPASSNAT6_FORWARD) is missing'
        $lines | Where-Object { $_ -like '192.0.2.2 web6 Different InternalIPv6 | *' } | Should -Match '\| the IPv6 reply exemption \(BYPASSNAT6_RAW\) differs: .*--sport 81 .* -> .*--sport 80 '
        $lines | Where-Object { $_ -like '192.0.2.2  Unhooked *' } | Should -Match 'the jump to BYPASSNAT6_PROXY is not the first rule of ip6tables mangle PREROUTING'
        $run.Output | Should -Contain 'quiet=False'
        Send-Inbound udp | Should -BeNullOrEmpty

        (Invoke-BothApply).Errors | Should -BeNullOrEmpty
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh
            "bypass=$($forwards | Test-BypassForward @ssh -Quiet) main=$($forwards | Test-BypassForward @main -Quiet)"
        }
        $run.Output | Should -Be 'bypass=True main=True'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
    }

    It 'an unconfirmed -ConfirmTimeout apply rolls the IPv6 rules back, live and saved; the prefix changes and the old forwards still work' {
        $before = Get-Ip6Rules
        $saved = Invoke-LabRouter $Lab 'cat /etc/bypassnat/ipv6.ip6tables'
        Set-LabRouterFault $Lab -Tool nft -Fault BlockNewSsh
        try {
            $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Changed } {
                $ssh = $Lab.Ssh
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist -ConfirmTimeout 5 -ConnectTimeout 2
            }
            $blocked = Test-Path (Join-Path $Lab.Dir 'fault-fired')
        } finally {
            Remove-LabRouterFault $Lab -Tool nft
        }
        $blocked | Should -BeTrue -Because 'the block must have been in place when the cmdlet tried to confirm'
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.RolledBack'
        Get-Ip6Rules | Should -Be $before
        Invoke-LabRouter $Lab 'cat /etc/bypassnat/ipv6.ip6tables' | Should -Be $saved
        Set-Prefix 3
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
    }

    It 'a confirmed -ConfirmTimeout apply keeps the new IPv6 rules' {
        $run = Invoke-BothApply $Changed @{ ConfirmTimeout = 30 }
        $run.Errors | Should -BeNullOrEmpty
        Start-Sleep -Seconds 1
        Get-Ip6Rules | Should -Match 'byp raw -A BYPASSNAT6_RAW .*--sport 2222 .*name=ssh6;'
        Invoke-LabRouter $Lab 'cat /etc/bypassnat/ipv6.ip6tables' | Should -Contain '-A BYPASSNAT6_RAW -s ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --sport 2222 -m comment --comment "bypassnat;name=ssh6;ext=2222;role=reply6" -j CT --notrack'
        Format-Peer (Send-LabRequest $Lab -Protocol tcp -Address "2001:db8:$($script:PrefixNumber)::20" -Port 2222) | Should -Be 'device tcp 2222 peer 2001:db8:ff::10'
    }

    It 'Get-BypassForward reads InternalIPv6 from both routers, and Remove-BypassForward -Name takes only that forward''s IPv6 rules' {
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh
            foreach ($f in @(Get-BypassForward @ssh) + @(Get-BypassForward @main)) { "$($f.Name)=$($f.InternalIPv6)" }
            Remove-BypassForward ssh6 @ssh -Confirm:$false
            Remove-BypassForward ssh6 @main -Confirm:$false
        }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output | Where-Object { $_ -eq 'ssh6=::20' }).Count | Should -Be 2
        @($run.Output | Where-Object { $_ -eq 'web6=::20' }).Count | Should -Be 2
        $rules = Get-Ip6Rules
        $rules | Should -Not -Match 'name=ssh6;'
        $rules | Should -Match 'main filter -A BYPASSNAT6_FORWARD .*name=web6;'
        $rules | Should -Match 'byp mangle -A BYPASSNAT6_PROXY .*name=game;'
        Invoke-LabRouter $Lab 'cat /etc/bypassnat/ipv6.ip6tables' | Where-Object { $_ -match 'name=ssh6;' } | Should -BeNullOrEmpty
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound tcp -Port 2222 | Should -BeNullOrEmpty
    }

    It 'an IPv6-only row (no InternalAddress) is applied to both routers with no IPv4 rule, read back, and follows a prefix change' {
        $script:Csv6 = $Csv + "`nnas6,Tcp,2222,192.0.2.2,,,::20"
        $csv6 = $Csv6
        $run = Invoke-BothApply $csv6
        $run.Errors | Should -BeNullOrEmpty
        $run.Output.Changed | Should -Be @($true, $true)
        (Get-LabNatTable $Lab) + (Get-LabNatTable $Lab -Node main) | Should -Not -Match 'nas6'
        Get-Ip6Rules | Should -Match ([regex]::Escape('main filter -A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --dport 2222 -m comment --comment "bypassnat;name=nas6;ext=2222;role=pinhole;via=192.0.2.2" -j ACCEPT'))
        Send-Inbound tcp -Port 2222 | Should -Be 'device tcp 2222 peer 2001:db8:ff::10'
        Set-Prefix 4
        Send-Inbound tcp -Port 2222 | Should -Be 'device tcp 2222 peer 2001:db8:ff::10'
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'

        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $csv6 } {
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh
            foreach ($f in @(Get-BypassForward nas6 @ssh) + @(Get-BypassForward nas6 @main)) { "read $($f.Name) $($f.Protocol) $($f.ExternalPort) [$($f.InternalAddress)] $($f.InternalIPv6) $($f.BypassAddress)" }
            $again = Get-BypassForward @ssh | ConvertTo-Csv -NoTypeInformation | ConvertFrom-Csv | New-BypassForward
            "again $(@($again | Where-Object Name -eq 'nas6' | ForEach-Object { "[$($_.InternalAddress)] $($_.InternalIPv6)" }))"
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            "test bypass=$($forwards | Test-BypassForward @ssh -Quiet) main=$($forwards | Test-BypassForward @main -Quiet)"
            "changed $(@($forwards | Invoke-BypassForwardApply @ssh).Changed) $(@($forwards | Invoke-BypassForwardApply @main).Changed)"
        }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output | Where-Object { $_ -eq 'read nas6 Tcp 2222 [] ::20 192.0.2.2' }).Count | Should -Be 2 -Because ($run.Output -join "`n")
        $run.Output | Should -Contain 'again [] ::20'
        $run.Output | Should -Contain 'test bypass=True main=True'
        $run.Output | Should -Contain 'changed False False'
    }

    It 'refuses a row with neither InternalAddress nor InternalIPv6, naming its row, and changes nothing' {
        $before = Get-Ip6Rules
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv + "`nnone,Tcp,2223,192.0.2.2,,," } {
            $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh
        }
        $missing = @($run.Errors | Where-Object FullyQualifiedErrorId -Match '^BypassNat\.MissingField')
        $missing.Count | Should -Be 1 -Because (@($run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $($_.Message)" }) -join '; ')
        $missing[0].Message | Should -Match 'Row 3 \(CSV line 4\): InternalAddress'
        $missing[0].Message | Should -Match 'InternalAddress \(IPv4, such as 192\.0\.2\.20\), InternalIPv6 \(such as ::20\), or both'
        Get-Ip6Rules | Should -Be $before
    }

    It 'Debug-BypassForward says whether each forward''s IPv6 rules are in place, on both routers' {
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh
            foreach ($d in @(Debug-BypassForward web6, nas6 @ssh) + @(Debug-BypassForward web6 @main)) {
                "$($d.ComputerName) $($d.Name) $($d.Ipv6) | " + (($d.Path | Where-Object Hop -eq 'ipv6' | ForEach-Object Detail) -join '')
            }
        }
        $lines = @($run.Output | Where-Object { $_ -like '192.0.2.*' })
        $lines | Should -Contain '192.0.2.2 web6 Ok | the exemption of ::20 port 80''s IPv6 replies is in place (BYPASSNAT6_RAW, BYPASSNAT6_PROXY, jumped to first)'
        $lines | Should -Contain '192.0.2.2 nas6 Ok | the exemption of ::20 port 2222''s IPv6 replies is in place (BYPASSNAT6_RAW, BYPASSNAT6_PROXY, jumped to first)'
        $lines | Should -Contain '192.0.2.1 web6 Ok | the IPv6 pinhole to ::20 port 80 is in place (BYPASSNAT6_FORWARD, jumped to first)'

        # The proxy restarts with its jump first, and the raw rules are flushed: both show.
        Invoke-LabCommand $Lab byp 'ip6tables -t mangle -D PREROUTING -j CLASH_TPROXY' | Out-Null
        Invoke-LabCommand $Lab byp 'ip6tables -t mangle -I PREROUTING 1 -j CLASH_TPROXY' | Out-Null
        Invoke-LabCommand $Lab byp 'ip6tables -t raw -F BYPASSNAT6_RAW' | Out-Null
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            foreach ($d in Debug-BypassForward web6, nas6 @ssh) { "$($d.Name) $($d.Ipv6) $(if ($d.Internal -like "[[]*") { $d.Status }) | " + (($d.Path | Where-Object Hop -eq 'ipv6' | ForEach-Object Detail) -join '') }
        }
        $run.Output | Should -Contain ('web6 Failed  | the exemption of ::20 port 80''s IPv6 replies is broken: no rule in BYPASSNAT6_RAW; ' +
            'BYPASSNAT6_PROXY is not jumped to first from ip6tables mangle PREROUTING: apply again')
        @($run.Output | Where-Object { $_ -like 'nas6 Failed NotForwarded | *' }).Count | Should -Be 1
        @($run.Warnings | Where-Object { $_ -match 'nas6' }).Count | Should -Be 1
        (Invoke-BothApply $Csv6).Errors | Should -BeNullOrEmpty
        Send-Inbound tcp -Port 2222 | Should -Be 'device tcp 2222 peer 2001:db8:ff::10'
    }

    It 'Get-BypassForwardPlan lists what to enter in the main router''s IPv6 firewall, and ConvertTo-BypassRuleset prints the IPv6 rules' {
        $forwards = $Csv | ConvertFrom-Csv | New-BypassForward
        $plan = @($forwards | Get-BypassForwardPlan -Role Main -MainRouterName iKuai | Where-Object Hop -eq 'MainIPv6')
        $plan.Count | Should -Be 2
        "$($plan[0].Router) $($plan[0].Name) $($plan[0].Protocol) $($plan[0].ExternalPort) $($plan[0].InternalAddress) $($plan[0].InternalPort)" | Should -Be 'iKuai web6 TCP 80 ::20 80'
        "$($plan[1].Name) $($plan[1].Protocol) $($plan[1].ExternalPort) $($plan[1].InternalAddress)" | Should -Be 'game UDP 9000 ::20'
        $shell = $forwards | ConvertTo-BypassRuleset Shell -Role Main -WanInterface wan0
        $shell | Should -Match ([regex]::Escape('ip6tables -t filter -A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p udp -m udp --dport 9000 -m comment --comment "bypassnat;name=game;ext=9000;role=pinhole" -j ACCEPT'))
        $nft = $forwards | ConvertTo-BypassRuleset Nftables
        $nft | Should -Match ([regex]::Escape('# -A BYPASSNAT6_RAW -s ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --sport 80'))
        # The commented IPv6 part leaves the file loadable by nft as it is.
        Set-Content (Join-Path $Lab.Dir 'convert.nft') $nft
        Invoke-LabCommand $Lab byp "nft -c -f $(Join-Path $Lab.Dir 'convert.nft')" | Out-Null
        # And the shell commands open the pinholes on a router BypassNat never touched (the main router, cleared first).
        Invoke-AsAdmin $Lab { $main = $Lab.MainSsh; Remove-BypassForward -All @main -Confirm:$false } | ForEach-Object Errors | Should -BeNullOrEmpty
        Send-Inbound udp | Should -BeNullOrEmpty
        $ipv6Lines = ($shell -split "`n" | Where-Object { $_ -like 'ip6tables *' }) -join "`n"
        Set-Content (Join-Path $Lab.Dir 'convert6.sh') $ipv6Lines
        Invoke-LabCommand $Lab main "sh $(Join-Path $Lab.Dir 'convert6.sh')" | Out-Null
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
    }
}

Describe 'IPv6 forwards behind a native nftables tproxy (an inet table, as OpenClash on nftables and mihomo write it)' {
    BeforeAll {
        $script:Lab = $null
        $script:PrefixNumber = 1
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Proxy tproxy-nft -IPv6 -Service 'tcp:80', 'udp:9000'
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'the proxy''s tproxy takes the replies past an ip6tables accept; BypassNat''s rule first in the proxy''s chain lets them by, and the LAN stays proxied across a prefix change' {
        $run = Invoke-BothApply
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Proxy | Should -Match 'nftables'
        $chain = (Invoke-LabCommand $Lab byp 'nft list chain inet clash_tproxy prerouting') -join "`n"
        $chain | Should -Match ([regex]::Escape('ip6 saddr & ::ffff:ffff:ffff:ffff == ::20 tcp sport 80 ct state untracked accept comment "bypassnat;name=web6;ext=80;role=reply6"'))
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From cli | Should -Be 'proxy tcp 2001:db8:ff::10'
        Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From dev | Should -Be 'proxy tcp 2001:db8:ff::10' -Because 'the device''s own connections are still proxied'

        # Without the rules in the proxy's chain (the ip6tables ones stay), its tproxy takes the replies again.
        foreach ($line in Invoke-LabCommand $Lab byp 'nft -a list chain inet clash_tproxy prerouting' | Where-Object { $_ -match 'role=reply6' }) {
            Invoke-LabCommand $Lab byp "nft delete rule inet clash_tproxy prerouting handle $([regex]::Match($line, '# handle (\d+)').Groups[1].Value)" | Out-Null
        }
        Get-Ip6Rules | Should -Match 'byp raw -A BYPASSNAT6_RAW '
        Send-Inbound tcp | Should -BeNullOrEmpty
        $test = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh | ForEach-Object { "$($_.Kind)" } }
        $test.Output | Should -Be 'Unexempted'
        (Invoke-BothApply).Errors | Should -BeNullOrEmpty
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'

        Set-Prefix 2
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        (Invoke-BothApply).Output.Changed | Should -Be @($false, $false)
        $test = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; "$($Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh -Quiet)" }
        $test.Output | Should -Be 'True'
    }
}

Describe 'IPv6 forwards behind a nat REDIRECT proxy (Clash''s redir-host mode)' {
    BeforeAll {
        $script:Lab = $null
        $script:PrefixNumber = 1
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -IPv6 -Service 'tcp:80', 'udp:9000'
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'a pinhole alone leaves the reply INVALID; the raw exemption is all REDIRECT needs, and the LAN''s own IPv6 TCP is still redirected' {
        Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From cli | Should -Be 'redirect tcp' -Because 'the lab''s proxy captures the LAN''s IPv6 TCP'
        Invoke-LabCommand $Lab main 'ip6tables -I FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp --dport 80 -j ACCEPT' | Out-Null
        try {
            Send-Inbound tcp | Should -BeNullOrEmpty
        } finally {
            Invoke-LabCommand $Lab main 'ip6tables -D FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp --dport 80 -j ACCEPT' | Out-Null
        }

        $run = Invoke-BothApply
        $run.Errors | Should -BeNullOrEmpty
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From dev | Should -Be 'redirect tcp' -Because 'the device''s own connections are still captured'
        Set-Prefix 2
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From cli | Should -Be 'redirect tcp'
    }
}
