# IPv6 forwards (InternalIPv6): no NAT, yet the same bug. The device's IPv6 gateway is the bypass router,
# the main router routes the delegated prefix straight to the LAN behind a home router's IPv6 firewall, and
# on the bypass router a TPROXY proxy and the conntrack INVALID drop eat the device's replies. BypassNat
# opens a pinhole on the main router and exempts the replies on the bypass router, both by interface
# identifier (::20), so a new delegated prefix needs no re-apply. Each Describe builds its own lab:
# Debian's v2ray in TPROXY mode, and the lab's own TPROXY proxy chain.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:ModulePath = Join-Path $PSScriptRoot '../../out/BypassNat'
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,InternalIPv6
web,Tcp,8080,192.0.2.2,192.0.2.20,80,
web6,Tcp,80,192.0.2.2,192.0.2.20,80,::20
game,Udp,9000,192.0.2.2,192.0.2.20,,::20
'@

    # socat prints an IPv6 peer in full ([2001:0db8:...]); this gives it back in its short form.
    function Format-Peer([string] $Line) {
        if ($null -eq $Line) { return $null }
        [regex]::Replace($Line, '\[([0-9a-fA-F:]+)\]', { param($m) [ipaddress]::Parse($m.Groups[1].Value).ToString() })
    }

    # From the internet client to the device's address under delegated prefix N; $null when lost.
    function Send-Inbound([ValidateSet('tcp', 'udp')] $Protocol, [int] $PrefixNumber = 1, [int] $Port = 0) {
        if (-not $Port) { $Port = if ($Protocol -eq 'tcp') { 80 } else { 9000 } }
        Format-Peer (Send-LabRequest $Lab -Protocol $Protocol -Address "2001:db8:${PrefixNumber}::20" -Port $Port)
    }

    # A LAN node's own IPv6 connection to the internet client, which answers with the address it saw:
    # the bypass router's when the proxy carried it.
    function Send-Outbound6($From) { Format-Peer (Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From $From) }

    # The main router's pinhole by hand, as a user would open it in a home router's GUI.
    function Open-ManualPinhole {
        Invoke-LabCommand $Lab main 'ip6tables -I FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp --dport 80 -j ACCEPT' | Out-Null
        Invoke-LabCommand $Lab main 'ip6tables -I FORWARD -d ::20/::ffff:ffff:ffff:ffff -p udp --dport 9000 -j ACCEPT' | Out-Null
    }
    # Applies the CSV to both routers (bypass first, then main) with -Verbose; fails the test on any error.
    function Invoke-BothApply([string] $Text = $Csv, [hashtable] $Extra = @{}) {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Text; Extra = $Extra } {
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh; $extra = $Params.Extra
            $forwards | Invoke-BypassForwardApply @ssh @extra -Verbose 4>&1
            $forwards | Invoke-BypassForwardApply @main @extra -Verbose 4>&1
        }
        $run.Errors | Should -BeNullOrEmpty
        [pscustomobject]@{
            Results = @($run.Output | Where-Object { $_.PSObject.Properties['Changed'] })
            Verbose = ($run.Output | Where-Object { $_ -is [string] -or $_.PSObject.TypeNames -contains 'Deserialized.System.Management.Automation.VerboseRecord' } | ForEach-Object { "$_" }) -join "`n"
        }
    }

    function Get-Ip6([string] $Node, [string] $Table) {
        @(Invoke-LabCommand $Lab $Node "ip6tables-save -t $Table" | Where-Object { $_ -notmatch '^#' } | ForEach-Object { $_ -replace ' \[\d+:\d+\]$' })
    }

    function Close-ManualPinhole {
        Invoke-LabCommand $Lab main 'ip6tables -D FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp --dport 80 -j ACCEPT' | Out-Null
        Invoke-LabCommand $Lab main 'ip6tables -D FORWARD -d ::20/::ffff:ffff:ffff:ffff -p udp --dport 9000 -j ACCEPT' | Out-Null
    }
}

Describe 'IPv6 behind a bypass router running Debian''s v2ray in TPROXY mode' {
    BeforeAll {
        $script:Lab = $null
        $script:Lab = Start-BypassLab -ModulePath $ModulePath -Proxy v2ray -IPv6 -Service 'tcp:80', 'udp:9000', 'tcp:2222'
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'the lab: v2ray carries the LAN''s IPv6 traffic; a LAN client that uses the main router goes straight' {
        Send-Outbound6 cli | Should -Be 'inet tcp 7000 peer 2001:db8:1::2'
        Send-Outbound6 cl2 | Should -Be 'inet tcp 7000 peer 2001:db8:1::31'
        Get-Content (Join-Path $Lab.Dir 'v2ray-access.log') -Raw | Should -Match '\[2001:db8:1::30\]:\d+ accepted tcp:\[2001:db8:ff::10\]:7000'
    }

    It 'the bug: the main router''s home firewall drops new inbound IPv6, and a pinhole there alone is not enough' {
        Send-Inbound tcp | Should -BeNullOrEmpty
        Open-ManualPinhole
        try {
            Send-Inbound tcp | Should -BeNullOrEmpty
            Send-Inbound udp | Should -BeNullOrEmpty
            # v2ray took the device's UDP reply as the LAN's own traffic.
            Get-Content (Join-Path $Lab.Dir 'v2ray-access.log') -Raw | Should -Match '\[2001:db8:1::20\]:9000 accepted udp:\[2001:db8:ff::10\]'
        } finally {
            Close-ManualPinhole
        }
    }

    It 'Invoke-BypassForwardApply on both routers opens the pinhole by interface identifier and exempts the replies: TCP and UDP cross' {
        $run = Invoke-BothApply
        $run.Results.Count | Should -Be 2
        $run.Results[0].Ipv6 | Should -Be 'replies untracked and exempted from the proxy (BYPASSNAT6_RAW and BYPASSNAT6_PROXY, 2 rule(s) each)'
        $run.Results[1].Ipv6 | Should -Be 'pinholes in ip6tables filter FORWARD (BYPASSNAT6_FORWARD, 2 rule(s))'
        $filter = Get-Ip6 main filter
        $filter | Should -Contain '-A FORWARD -j BYPASSNAT6_FORWARD'
        ($filter | Where-Object { $_ -like '-A FORWARD *' } | Select-Object -First 1) | Should -Be '-A FORWARD -j BYPASSNAT6_FORWARD'
        $filter | Should -Contain '-A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --dport 80 -m comment --comment "bypassnat;name=web6;ext=80;role=pinhole" -j ACCEPT'
        $filter | Should -Contain '-A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p udp -m udp --dport 9000 -m comment --comment "bypassnat;name=game;ext=9000;role=pinhole" -j ACCEPT'
        @($filter | Where-Object { $_ -like '-A BYPASSNAT6_FORWARD *' }).Count | Should -Be 2
        Get-Ip6 byp raw | Should -Contain '-A BYPASSNAT6_RAW -s ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --sport 80 -m comment --comment "bypassnat;name=web6;ext=80;role=reply6" -j CT --notrack'
        $mangle = Get-Ip6 byp mangle
        ($mangle | Where-Object { $_ -like '-A PREROUTING *' } | Select-Object -First 1) | Should -Be '-A PREROUTING -j BYPASSNAT6_PROXY'
        $mangle | Should -Contain '-A BYPASSNAT6_PROXY -s ::20/::ffff:ffff:ffff:ffff -p udp -m udp --sport 9000 -m conntrack --ctstate UNTRACKED -m comment --comment "bypassnat;name=game;ext=9000;role=reply6" -j ACCEPT'

        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
    }

    It 'opens only the forwarded ports: another service of the device stays closed to the internet' {
        Send-Inbound tcp -Port 2222 | Should -BeNullOrEmpty
        # ...while the LAN reaches it directly.
        Format-Peer (Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:1::20 -Port 2222 -From cli) | Should -Be 'device tcp 2222 peer 2001:db8:1::30'
    }

    It 'the LAN''s own IPv6 traffic, the device''s included, still goes through v2ray' {
        Send-Outbound6 cli | Should -Be 'inet tcp 7000 peer 2001:db8:1::2'
        Send-Outbound6 dev | Should -Be 'inet tcp 7000 peer 2001:db8:1::2'
        Get-Content (Join-Path $Lab.Dir 'v2ray-access.log') -Raw | Should -Match '\[2001:db8:1::20\]:\d+ accepted tcp:\[2001:db8:ff::10\]:7000'
    }

    It 'a second apply changes nothing' {
        $run = Invoke-BothApply
        $run.Results.Changed | Should -Be @($false, $false)
    }

    It 'Get-BypassForward reads InternalIPv6 back from both routers; Export-Csv writes it and New-BypassForward reads it again' {
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh
            $bypass = @(Get-BypassForward @ssh)
            $mainForwards = @(Get-BypassForward @main)
            foreach ($f in $bypass + $mainForwards) { "$($f.Name)=$($f.InternalIPv6)" }
            $csv = $bypass | ConvertTo-Csv -NoTypeInformation
            "header=$($csv[0])"
            $again = $csv | ConvertFrom-Csv | New-BypassForward
            foreach ($f in $again) { "again $($f.Name)=$($f.InternalIPv6)" }
        }
        $run.Errors | Should -BeNullOrEmpty
        $lines = @($run.Output | ForEach-Object { "$_" })
        $lines | Should -Contain 'web6=::20'
        $lines | Should -Contain 'game=::20'
        $lines | Should -Contain 'web='
        @($lines | Where-Object { $_ -eq 'web6=::20' }).Count | Should -Be 2
        ($lines | Where-Object { $_ -like 'header=*' }) | Should -Match '"InternalIPv6"'
        $lines | Should -Contain 'again web6=::20'
        $lines | Should -Contain 'again web='
    }

    It 'the delegated prefix changes (a PPPoE reconnect): the forward keeps working without a re-apply, and the LAN is still proxied' {
        Set-LabPrefix $Lab 2
        (Invoke-LabCommand $Lab dev 'ip -6 addr show dev eth0 scope global') -join "`n" | Should -Match 'inet6 2001:db8:2::20/64'
        Send-Inbound tcp -PrefixNumber 2 | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp -PrefixNumber 2 | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        Send-Outbound6 cli | Should -Be 'inet tcp 7000 peer 2001:db8:2::2'
        (Invoke-BothApply).Results.Changed | Should -Be @($false, $false)
    }

    It 'a CSV without InternalIPv6 removes the IPv6 rules from both routers, and the IPv6 forward is closed again' {
        $ipv4Only = ($Csv -split "`n" | ForEach-Object { $_ -replace ',::20\s*$', ',' }) -join "`n"
        $run = Invoke-BothApply $ipv4Only
        $run.Results.Changed | Should -Be @($true, $true)
        Get-Ip6 main filter | Should -Not -Match 'BYPASSNAT6'
        Get-Ip6 byp raw | Should -Not -Match 'BYPASSNAT6'
        Get-Ip6 byp mangle | Should -Not -Match 'BYPASSNAT6'
        Send-Inbound tcp -PrefixNumber 2 | Should -BeNullOrEmpty
    }
}

Describe 'IPv6 with the lab''s own TPROXY proxy chain (Clash TPROXY mode)' {
    BeforeAll {
        $script:Lab = $null
        $script:Lab = Start-BypassLab -ModulePath $ModulePath -Proxy tproxy-iptables -IPv6 -Service 'tcp:80', 'udp:9000'
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'a pinhole alone is not enough; with BypassNat on both routers TCP and UDP cross, and the LAN is still captured' {
        Open-ManualPinhole
        try {
            Send-Inbound tcp | Should -BeNullOrEmpty
            Send-Inbound udp | Should -BeNullOrEmpty
        } finally {
            Close-ManualPinhole
        }
        Invoke-BothApply | Out-Null
        Send-Inbound tcp | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
        Send-Inbound udp | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        # The lab's proxy answers for what it captured.
        Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From cli | Should -Be 'proxy tcp 2001:db8:ff::10'
        Send-LabRequest $Lab -Protocol tcp -Address 2001:db8:ff::10 -Port 7000 -From dev | Should -Be 'proxy tcp 2001:db8:ff::10'
        Set-LabPrefix $Lab 2
        Send-Inbound tcp -PrefixNumber 2 | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
    }

    It '-WhatIf shows the IPv6 line of the plan, and changes nothing' {
        $before = (Get-Ip6 byp raw) -join "`n"
        $moved = $Csv -replace ',::20', ',::21'
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $moved } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -WhatIf }
        $run.Errors | Should -BeNullOrEmpty
        $run.Console | Should -Match 'ipv6     let the devices'' IPv6 replies past conntrack and the proxy \(2 rule\(s\) each in BYPASSNAT6_RAW and BYPASSNAT6_PROXY'
        (Get-Ip6 byp raw) -join "`n" | Should -Be $before
    }

    It 'warns, before writing, when the main router''s IPv6 policy drops in a native nftables table its pinholes cannot open' {
        Invoke-LabCommand $Lab main 'nft add table ip6 homefw' | Out-Null
        Invoke-LabCommand $Lab main 'nft add chain ip6 homefw forward { type filter hook forward priority 0 ; policy drop ; }' | Out-Null
        # A home firewall's table: what it let out may answer, nothing new comes in.
        Invoke-LabCommand $Lab main 'nft add rule ip6 homefw forward ct state established,related accept' | Out-Null
        Invoke-LabCommand $Lab main 'nft add rule ip6 homefw forward iifname lan0 accept' | Out-Null
        try {
            $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $main = $Lab.MainSsh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main -WhatIf }
            $run.Errors | Should -BeNullOrEmpty
            $warning = @($run.Warnings | Where-Object { $_ -match '^On 192\.0\.2\.1 the IPv6 forward policy also drops in the nftables table\(s\) ''ip6 homefw''' })
            $warning.Count | Should -Be 1
            # The table's drop closes the pinholes; the rules the warning gives open them there.
            Send-Inbound tcp -PrefixNumber 2 | Should -BeNullOrEmpty
            $rules = @($warning[0] -split "`n" | Where-Object { $_ -like '    nft insert rule ip6 homefw forward *' } | ForEach-Object { $_.Trim() })
            $rules | Should -Contain 'nft insert rule ip6 homefw forward ip6 daddr & ::ffff:ffff:ffff:ffff == ::20 tcp dport 80 accept comment "bypassnat;name=web6;ext=80;role=pinhole"'
            $rules.Count | Should -Be 2
            foreach ($rule in $rules) { Invoke-LabCommand $Lab main $rule | Out-Null }
            Send-Inbound tcp -PrefixNumber 2 | Should -Be 'device tcp 80 peer 2001:db8:ff::10'
            Send-Inbound udp -PrefixNumber 2 | Should -Be 'device udp 9000 peer 2001:db8:ff::10'
        } finally {
            Invoke-LabCommand $Lab main 'nft delete table ip6 homefw' | Out-Null
        }
    }

    It 'Remove-BypassForward -All removes the IPv6 rules with the forwards, and leaves the proxy''s own rules' {
        $proxy = (Get-Ip6 byp mangle | Where-Object { $_ -notmatch 'BYPASSNAT6' }) -join "`n"
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        Get-Ip6 byp raw | Should -Not -Match 'BYPASSNAT6'
        (Get-Ip6 byp mangle) -join "`n" | Should -Be $proxy
        Send-Inbound tcp -PrefixNumber 2 | Should -BeNullOrEmpty
    }

    It 'refuses port translation on IPv6, naming the row, and changes nothing' {
        $before = (Get-Ip6 main filter) -join "`n"
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            "Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,InternalIPv6`nweb6,Tcp,8443,192.0.2.2,192.0.2.20,443,::20" | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh
        }
        $refused = @($run.Errors | Where-Object FullyQualifiedErrorId -Match '^BypassNat\.Ipv6PortTranslation')
        $refused.Count | Should -Be 1 -Because (@($run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $($_.Message)" }) -join '; ')
        $refused[0].Message | Should -Match 'Row 1 \(CSV line 2\): InternalIPv6 ''::20'' is not valid'
        $refused[0].Message | Should -Match 'ExternalPort 8443'
        $refused[0].Target | Should -Not -BeNullOrEmpty
        (Get-Ip6 main filter) -join "`n" | Should -Be $before
    }
}
