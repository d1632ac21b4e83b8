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
    function Close-ManualPinhole {
        Invoke-LabCommand $Lab main 'ip6tables -D FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp --dport 80 -j ACCEPT' | Out-Null
        Invoke-LabCommand $Lab main 'ip6tables -D FORWARD -d ::20/::ffff:ffff:ffff:ffff -p udp --dport 9000 -j ACCEPT' | Out-Null
    }
}

Describe 'IPv6 behind a bypass router running Debian''s v2ray in TPROXY mode' {
    BeforeAll {
        $script:Lab = $null
        $script:Lab = Start-BypassLab -ModulePath $ModulePath -Proxy v2ray -IPv6 -Service 'tcp:80', 'udp:9000'
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
}
