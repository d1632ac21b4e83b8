# A bypass router whose proxy captures all LAN traffic, as Clash/OpenClash do in TPROXY (fake-ip) and
# TUN modes: the device's replies to a forwarded client are LAN traffic to the internet too, so the proxy
# takes them and the forward breaks. One lab: its proxy starts as iptables mangle TPROXY (exempted by
# BypassNat on both backends), then becomes a TUN device (advised, not exempted), and last a TUN device
# reached by an iptables mangle mark (exempted). The native nft tproxy has its own file, TproxyNft.Tests.ps1.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Proxy tproxy-iptables -Service 'tcp:80', 'udp:9000'
    Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)

    . (Join-Path $PSScriptRoot 'TproxyLab.ps1')

    function Get-Mangle { (Invoke-LabCommand $Lab byp 'iptables-save -t mangle' | Where-Object { $_ -notmatch '^#' } | ForEach-Object { $_ -replace ' \[\d+:\d+\]$' }) -join "`n" }

    function Remove-ExemptionJump { Invoke-LabCommand $Lab byp 'iptables -t mangle -D PREROUTING -j BYPASSNAT_PROXY' | Out-Null }

    # The indented rule lines of a warning (BypassNat's advice), to apply them as a user would.
    function Get-AdviceLines([string] $Warning) { @($Warning -split "`n" | Where-Object { $_ -match '^    \S' } | ForEach-Object { $_.Trim() }) }

    $script:ProxyMangle = Get-Mangle
}
AfterAll { Stop-BypassLab $script:Lab }

Describe 'iptables mangle TPROXY (Clash fake-ip / TPROXY mode)' {
    It 'the lab''s proxy captures LAN traffic to the internet' {
        Send-Outbound cli | Should -Be 'proxy tcp 203.0.113.10'
    }

    It 'is detected, and the nftables backend''s forwards work with the exemption' {
        $run = Invoke-Apply @{ Backend = 'Nftables' }
        $run.Verbose | Should -Match 'VERBOSE: Proxy on 192\.0\.2\.2: a transparent proxy captures LAN traffic: 2 TPROXY rule\(s\) in the iptables mangle table'
        $run.Verbose | Should -Match 'proxy    exempt the forwards'' replies from the proxy''s capture in the mangle table \(2 rule\(s\) in BYPASSNAT_PROXY'
        $run.Result.Backend | Should -Be 'Nftables'
        $run.Result.Proxy | Should -Be 'iptables TPROXY: replies exempted (BYPASSNAT_PROXY)'
        $run.Warnings | Should -BeNullOrEmpty
        $mangle = Get-Mangle
        $mangle | Should -Match '(?m)^:PREROUTING ACCEPT\n(:.*\n)*-A PREROUTING -j BYPASSNAT_PROXY\n-A PREROUTING -j CLASH_TPROXY$'
        $mangle | Should -Match ([regex]::Escape('-A BYPASSNAT_PROXY -s 192.0.2.20/32 -p tcp -m tcp --sport 80 -m conntrack --ctstate DNAT --ctdir REPLY -m comment --comment "bypassnat;name=web;ext=8080;role=reply" -j ACCEPT'))
        $mangle | Should -Match ([regex]::Escape('-A BYPASSNAT_PROXY -s 192.0.2.20/32 -p udp -m udp --sport 9000 -m conntrack --ctstate DNAT --ctdir REPLY'))
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        Send-Forwarded udp | Should -Match '^device udp 9000 peer 203\.0\.113\.10$'
    }

    It 'without the exemption the same forwards break: the proxy takes the device''s replies; Test-BypassForward says so' {
        Remove-ExemptionJump
        Send-Forwarded tcp | Should -BeNullOrEmpty
        Send-Forwarded udp | Should -BeNullOrEmpty
        # The kind as its name (an enum deserializes as its number).
        $drift = @((Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh | ForEach-Object { [pscustomobject]@{ Kind = "$($_.Kind)"; Detail = $_.Detail } }
        }).Output)
        $drift.Count | Should -Be 1
        $drift[0].Kind | Should -Be 'Unexempted'
        $drift[0].Detail | Should -Match '^proxy    exempt the forwards'' replies'
    }

    It 'the next apply puts the exemption back, and the forwards work again' {
        $run = Invoke-Apply
        $run.Result.Changed | Should -BeTrue
        $run.Verbose | Should -Match 'proxy    exempt the forwards'' replies'
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        Send-Forwarded udp | Should -Match '^device udp 9000 peer 203\.0\.113\.10$'
    }

    It 'exempts only the forwards'' replies: the LAN''s own traffic, the device''s included, is still captured' {
        Send-Outbound cli | Should -Be 'proxy tcp 203.0.113.10'
        Send-Outbound dev | Should -Be 'proxy tcp 203.0.113.10'
    }

    It 'does the same on the iptables backend: broken without the exemption, working with it' {
        $run = Invoke-Apply @{ Backend = 'Iptables' }
        $run.Result.Backend | Should -Be 'Iptables'
        $run.Result.MovedFrom | Should -Be 'Nftables'
        $run.Result.Proxy | Should -Be 'iptables TPROXY: replies exempted (BYPASSNAT_PROXY)'
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        Send-Forwarded udp | Should -Match '^device udp 9000 peer 203\.0\.113\.10$'
        Remove-ExemptionJump
        Send-Forwarded tcp | Should -BeNullOrEmpty
        (Invoke-Apply).Result.Changed | Should -BeTrue
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
    }

    It 'with -Persist the exemption comes back first after the proxy restarts (watcher) and at boot' {
        $run = Invoke-Apply @{ Persist = $true }
        $run.Result.Persisted | Should -Be 'systemd'
        Invoke-LabRouter $Lab 'cat /etc/bypassnat/proxy-exemption.iptables' | Should -Contain '-F BYPASSNAT_PROXY'
        $watcher = (Invoke-LabRouter $Lab "grep '^ExecStart=' /etc/systemd/system/bypassnat-watch.service") -replace '^ExecStart=', ''
        $boot = (Invoke-LabRouter $Lab "grep '^ExecStart=' /etc/systemd/system/bypassnat.service") -replace '^ExecStart=', ''

        # A proxy restart that puts its own jump first.
        Invoke-BypassShell "iptables -t mangle -D PREROUTING -j CLASH_TPROXY`niptables -t mangle -I PREROUTING 1 -j CLASH_TPROXY"
        Send-Forwarded tcp | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab $watcher | Out-Null
        Get-Mangle | Should -Match '(?m)^-A PREROUTING -j BYPASSNAT_PROXY\n-A PREROUTING -j CLASH_TPROXY$'
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'

        # A boot: nothing of BypassNat's in the mangle table until the boot unit runs.
        Invoke-BypassShell "iptables -t mangle -D PREROUTING -j BYPASSNAT_PROXY`niptables -t mangle -F BYPASSNAT_PROXY`niptables -t mangle -X BYPASSNAT_PROXY"
        Invoke-LabRouter $Lab $boot | Out-Null
        Get-Mangle | Should -Match '(?m)^-A PREROUTING -j BYPASSNAT_PROXY\n-A PREROUTING -j CLASH_TPROXY$'
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        (Invoke-Apply).Result.Changed | Should -BeFalse
    }

    It 'Remove-BypassForward -All removes the exemption and leaves the proxy''s own rules as they were' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        Get-Mangle | Should -Be $ProxyMangle
        Get-Mangle | Should -Not -Match 'BYPASSNAT'
        Invoke-LabCommand $Lab byp 'ip rule show' | Should -Contain '32765:	from all fwmark 0x1/0x1 lookup 100'
        Send-Outbound cli | Should -Be 'proxy tcp 203.0.113.10'
    }
}

Describe 'TUN mode: exact advice where BypassNat cannot exempt, exempted where a mangle mark routes into the tunnel' {
    It 'TUN mode (policy routing into a tunnel): detected, not exempted, and the advised ip rules make the forward work' {
        # The iptables TPROXY proxy goes; a TUN-mode proxy takes its place.
        Invoke-BypassShell @'
iptables -t mangle -D PREROUTING -j CLASH_TPROXY
iptables -t mangle -F CLASH_TPROXY
iptables -t mangle -X CLASH_TPROXY
ip tuntap add dev tun0 mode tun
ip link set tun0 up
ip route add default dev tun0 table 2022
ip rule add lookup main suppress_prefixlength 0 pref 9000
ip rule add iif lan0 lookup 2022 pref 9001
'@
        Send-Forwarded tcp | Should -BeNullOrEmpty
        $run = Invoke-Apply
        $run.Result.Proxy | Should -Match '^TUN policy routing \(tun0\): not exempted'
        $warning = @($run.Warnings | Where-Object { $_ -match 'tun0' })
        $warning.Count | Should -Be 1
        $advice = Get-AdviceLines $warning[0]
        $advice | Should -Be @('ip rule add from 192.0.2.20 ipproto tcp sport 80 lookup main pref 9000', 'ip rule add from 192.0.2.20 ipproto udp sport 9000 lookup main pref 9000')

        Invoke-BypassShell ($advice -join "`n")
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        Send-Forwarded udp | Should -Match '^device udp 9000 peer 203\.0\.113\.10$'
        # The device's other traffic still goes into the tunnel (where nobody answers in the lab).
        Send-Outbound dev | Should -BeNullOrEmpty
    }

    It 'TUN by an iptables mangle mark (OpenClash on fw3): exempted by BypassNat itself' {
        # The same tunnel, now reached by a mark set in the mangle table; the advised rules go.
        Invoke-BypassShell @'
ip rule del iif lan0 lookup 2022 pref 9001
ip rule del from 192.0.2.20 ipproto tcp sport 80 lookup main pref 9000
ip rule del from 192.0.2.20 ipproto udp sport 9000 lookup main pref 9000
iptables -t mangle -A PREROUTING -i lan0 ! -d 192.0.2.0/24 -j MARK --set-mark 0x162
ip rule add fwmark 0x162 lookup 2022 pref 9001
'@
        Invoke-LabCommand $Lab byp 'ip rule show' | Should -Not -Match 'ipproto'
        Send-Forwarded tcp | Should -BeNullOrEmpty
        $run = Invoke-Apply
        $run.Result.Proxy | Should -Be 'TUN by iptables mangle mark (tun0): replies exempted (BYPASSNAT_PROXY)'
        $run.Warnings | Should -BeNullOrEmpty
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        Send-Forwarded udp | Should -Match '^device udp 9000 peer 203\.0\.113\.10$'
        Send-Outbound dev | Should -BeNullOrEmpty
    }
}
