# IPv6 forwards with OpenWrt routers on both hops, built from OpenWrt's code. The main router's IPv6
# policy is firewall4's own (the wan zone rejects what is forwarded in), so the forward's IPv6 half is a
# UCI traffic rule beside its redirect, by interface identifier (dest_ip '::20/-64'). The bypass router
# runs firewall4 with Debian's v2ray capturing the LAN in TPROXY mode through iptables-nft, as OpenClash
# and PassWall add theirs beside firewall4, and the conntrack INVALID drop. Needs `build.ps1 OpenWrtLab`;
# without its cache every test here is reported as skipped, with the reason.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:SkipReason = Get-OpenWrtLabSkipReason
    if ($SkipReason) { Write-Host "SKIPPED OpenWrtIPv6.Tests.ps1: $SkipReason" -ForegroundColor Yellow }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    # web6 and game both families; locked admits only IPv6 clients the internet client is not among;
    # web is IPv4 only.
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,InternalIPv6,AllowedSource
web,Tcp,8080,192.0.2.2,192.0.2.20,80,,
web6,Tcp,80,192.0.2.2,192.0.2.20,80,::20,
game,Udp,9000,192.0.2.2,192.0.2.20,,::20,
locked,Tcp,2222,192.0.2.2,192.0.2.20,2222,::20,203.0.113.0/24 2001:db8:100::/48 2001:db8:200::7
'@

    # socat prints an IPv6 peer in full ([2001:0db8:...]); this gives it back in its short form.
    function Format-Peer([string] $Line) {
        if ($null -eq $Line) { return $null }
        [regex]::Replace($Line, '\[([0-9a-fA-F:]+)\]', { param($m) [ipaddress]::Parse($m.Groups[1].Value).ToString() })
    }

    # From the internet client to the device's address under delegated prefix N; $null when lost or refused.
    function Send-Inbound([ValidateSet('tcp', 'udp')] $Protocol, [int] $PrefixNumber = 1, [int] $Port = 0) {
        if (-not $Port) { $Port = if ($Protocol -eq 'tcp') { 80 } else { 9000 } }
        Format-Peer (Send-LabRequest $Lab -Protocol $Protocol -Address "2001:db8:${PrefixNumber}::20" -Port $Port)
    }

    # A LAN node's own IPv6 connection to the internet client, which answers with the address it saw:
    # the bypass router's when v2ray carried it.
    function Send-Outbound6($From) { Format-Peer (Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From $From) }

    # Applies the CSV to the bypass router, then the main router; fails the test on any error.
    function Invoke-BothApply([string] $Text = $Csv) {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Text } {
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh
            $forwards | Invoke-BypassForwardApply @ssh
            $forwards | Invoke-BypassForwardApply @main
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output
    }

    # BypassNat's sections of the main router's /etc/config/firewall, as LuCI reads them.
    function Get-MainConfig { Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall' }
    # What firewall4 loaded for BypassNat's IPv6 rules (stateless: no counters).
    function Get-Rendered6 { @(Invoke-LabRouter $Lab -Main 'nft -s list table inet fw4' | Where-Object { $_ -match 'comment "!fw4: .* \(IPv6\)"' } | ForEach-Object { $_.Trim() }) }
}

Describe 'IPv6 with OpenWrt main and bypass routers (firewall4, v2ray TPROXY through iptables-nft)' -Skip:($null -ne $SkipReason) {
    BeforeAll {
        $script:Lab = $null
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Router openwrt -Main openwrt -Proxy v2ray -IPv6 `
            -Service 'tcp:80', 'udp:9000', 'tcp:2222'
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'the lab: firewall4 on the main router turns new inbound IPv6 away, and v2ray carries the LAN''s own IPv6' {
        Send-Inbound tcp | Should -BeNullOrEmpty
        Send-Inbound udp | Should -BeNullOrEmpty
        Send-Outbound6 cli | Should -Be 'inet tcp 7000 peer 2001:db8:1::2'
    }

    It 'the bug: a traffic rule on the main router alone is not enough, v2ray takes the device''s replies' {
        Invoke-LabRouter $Lab -Main "uci batch <<'EOF'
set firewall.byhand=rule
set firewall.byhand.family=ipv6
set firewall.byhand.src=wan
set firewall.byhand.dest=lan
set firewall.byhand.proto=udp
set firewall.byhand.dest_ip=::20/-64
set firewall.byhand.dest_port=9000
set firewall.byhand.target=ACCEPT
commit firewall
EOF
fw4 reload" | Out-Null
        try {
            Send-Inbound udp | Should -BeNullOrEmpty
            Get-Content (Join-Path $Lab.Dir 'v2ray-access.log') -Raw | Should -Match '\[2001:db8:1::20\]:9000 accepted udp:\[2001:db8:ff::10\]'
        } finally {
            Invoke-LabRouter $Lab -Main 'uci delete firewall.byhand; uci commit firewall; fw4 reload' | Out-Null
        }
    }

    It 'an apply writes a named traffic rule per IPv6 forward on the main router, as LuCI shows it, and TCP and UDP cross both hops' {
        $results = @(Invoke-BothApply)
        $results.Count | Should -Be 2
        $results[0].Ipv6 | Should -Match '^replies untracked and exempted from the proxy'
        $results[1].Backend | Should -Be 'Uci'
        $results[1].Ipv6 | Should -BeNullOrEmpty -Because 'no ip6tables pinholes on an OpenWrt main router: the rules are UCI config'
        $config = (Get-MainConfig) -join "`n"
        $config | Should -Match ([regex]::Escape(@"
config rule 'bypassnat6_web6'
	option name 'web6 (IPv6)'
	option family 'ipv6'
	option src 'wan'
	option dest 'lan'
	option dest_ip '::20/-64'
	option proto 'tcp'
	option dest_port '80'
	option target 'ACCEPT'
	option enabled '1'
"@))
        $config | Should -Match ([regex]::Escape(@"
config rule 'bypassnat6_locked'
	option name 'locked (IPv6)'
	option family 'ipv6'
	option src 'wan'
	list src_ip '2001:db8:100::/48'
	list src_ip '2001:db8:200::7'
"@))
        $config | Should -Not -Match 'bypassnat6_web\b' -Because 'web has no InternalIPv6'
        Invoke-LabRouter $Lab -Main 'uci changes' | Should -BeNullOrEmpty
        # firewall4 matches the interface identifier under any prefix.
        $rendered = Get-Rendered6
        $rendered | Where-Object { $_ -match 'ip6 daddr & ::ffff:ffff:ffff:ffff == ::20 tcp dport 80 .*accept.* comment "!fw4: web6 \(IPv6\)"$' } | Should -Not -BeNullOrEmpty -Because ($rendered -join "`n")
        $rendered | Where-Object { $_ -match 'ip6 saddr .*2001:db8:100::/48.* ip6 daddr & ::ffff:ffff:ffff:ffff == ::20 tcp dport 2222 ' -and $_ -match '2001:db8:200::7' } | Should -Not -BeNullOrEmpty -Because ($rendered -join "`n")

        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
    }

    It 'opens only the forwarded ports, to the allowed clients: the locked forward stays closed to this internet client' {
        Send-Inbound tcp -Port 2222 | Should -BeNullOrEmpty
        Format-Peer (Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:1::20 -Port 2222 -From cli) | Should -Be 'device tcp 2222 peer 2001:db8:1::30'
    }

    It 'the LAN''s own IPv6 traffic, the device''s included, still goes through v2ray' {
        Send-Outbound6 cli | Should -Be 'inet tcp 7000 peer 2001:db8:1::2'
        Send-Outbound6 dev | Should -Be 'inet tcp 7000 peer 2001:db8:1::2'
    }

    It 'a second apply changes nothing, on either router' {
        $before = Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall'
        @(Invoke-BothApply).Changed | Should -Be @($false, $false)
        Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall' | Should -Be $before
    }

    It 'Get-BypassForward reads InternalIPv6 and AllowedSourceIPv6 back from the rules; Test-BypassForward finds no drift, then an identifier that differs' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $main = $Lab.MainSsh
            Get-BypassForward @main | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.InternalIPv6)|$($_.AllowedSourceIPv6)" }
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @main -Quiet
            $Params.Csv -replace ',::20,', ',::21,' | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @main | ForEach-Object { "$($_.Kind) $($_.Name) $($_.Detail)" } | Sort-Object
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @(
            'game=::20|'
            'locked=::20|2001:db8:100::/48 2001:db8:200::7'
            'web=|'
            'web6=::20|'
            $true
            'Different game InternalIPv6: ::20 -> ::21'
            'Different locked InternalIPv6: ::20 -> ::21'
            'Different web6 InternalIPv6: ::20 -> ::21')
    }

    It '-WhatIf lists the traffic rules a change writes, and changes nothing' {
        $before = Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall'
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv -replace '(?m),::20,$', ',2001:db8:1::20,' } {
            $main = $Lab.MainSsh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main -WhatIf
        }
        $run.Errors | Should -BeNullOrEmpty
        $console = $run.Console -join "`n"
        $console | Should -Match 'change +web6 .*\(InternalIPv6\)'
        $console | Should -Match ([regex]::Escape("ipv6     traffic rule bypassnat6_web6 ('web6 (IPv6)'): accept tcp 80 from the WAN to 2001:db8:1::20"))
        $console | Should -Match ([regex]::Escape("ipv6     traffic rule bypassnat6_game ('game (IPv6)'): accept udp 9000 from the WAN to 2001:db8:1::20"))
        Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall' | Should -Be $before
    }

    It 'the delegated prefix changes (a PPPoE reconnect): the forward keeps working without a re-apply, and the LAN is still proxied' {
        Set-LabPrefix $Lab 2
        Send-Inbound tcp -PrefixNumber 2 | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp -PrefixNumber 2 | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        Send-Outbound6 cli | Should -Be 'inet tcp 7000 peer 2001:db8:2::2'
        @(Invoke-BothApply).Changed | Should -Be @($false, $false)
    }

    It 'survives firewall reloads on both routers and the main router''s boot, being UCI config' {
        Invoke-LabRouter $Lab 'fw4 reload' | Out-Null
        Invoke-LabRouter $Lab -Main 'fw4 reload' | Out-Null
        Send-Inbound tcp -PrefixNumber 2 | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Invoke-LabRouter $Lab -Main 'nft flush ruleset; rm -f /var/run/fw4.state /var/run/fw4.lock' | Out-Null
        Invoke-LabRouter $Lab -Main '/etc/init.d/firewall boot' | Out-Null
        Send-Inbound udp -PrefixNumber 2 | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        Get-Rendered6 | Where-Object { $_ -match '!fw4: web6 \(IPv6\)' } | Should -Not -BeNullOrEmpty
    }

    It 'Remove-BypassForward -Name takes the rule with the redirect; -All takes every section of BypassNat''s and leaves the user''s' {
        $run = Invoke-AsAdmin $Lab { $main = $Lab.MainSsh; Remove-BypassForward @main -Name web6 -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab -Main 'uci -q get firewall.bypassnat6_web6 || echo gone' | Should -Be 'gone'
        Invoke-LabRouter $Lab -Main 'uci -q get firewall.bypassnat_web6 || echo gone' | Should -Be 'gone'
        Invoke-LabRouter $Lab -Main 'uci -q get firewall.bypassnat6_game' | Should -Be 'rule'
        Send-Inbound tcp -PrefixNumber 2 | Should -BeNullOrEmpty
        Send-Inbound udp -PrefixNumber 2 | Should -Be 'device udp 9000 peer 2001:db8:ff::10'

        $run = Invoke-AsAdmin $Lab { $main = $Lab.MainSsh; Remove-BypassForward @main -All -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        (Get-MainConfig) -join "`n" | Should -Not -Match 'bypassnat'
        Invoke-LabRouter $Lab -Main 'uci -q get firewall.mine' | Should -Be 'redirect'
        Send-Inbound udp -PrefixNumber 2 | Should -BeNullOrEmpty
    }
}
