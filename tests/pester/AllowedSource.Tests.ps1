# AllowedSource: a forward that admits only some clients. The internet client has two addresses,
# 203.0.113.10 (allowed) and 203.0.113.11 (not); both hops are applied by BypassNat (the main router
# with -Role Main). What the device receives is counted on the device itself, so "not forwarded"
# means no packet from the other address arrived there, not only that the client timed out.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:OpenWrtSkipReason = Get-OpenWrtLabSkipReason
    if ($OpenWrtSkipReason) { Write-Host "SKIPPED the OpenWrt part of AllowedSource.Tests.ps1: $OpenWrtSkipReason" -ForegroundColor Yellow }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Open = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,AllowedSource
web,Tcp,8080,192.0.2.2,18080,192.0.2.20,81,
game,Udp,9100,192.0.2.2,19100,192.0.2.20,9000,
open,Tcp,8081,192.0.2.2,18081,192.0.2.20,80,
'@
    $script:Restricted = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,AllowedSource
web,Tcp,8080,192.0.2.2,18080,192.0.2.20,81,203.0.113.10 198.51.100.0/24
game,Udp,9100,192.0.2.2,19100,192.0.2.20,9000,203.0.113.10;192.0.2.30
open,Tcp,8081,192.0.2.2,18081,192.0.2.20,80,
'@
    $script:Allowed = '203.0.113.10'
    $script:Other = '203.0.113.11'

    # Applies a CSV to both routers in one admin step, the main router first; -Main/-Bypass pick each hop's CSV.
    function Invoke-BothHops($Lab, [string] $Main, [string] $Bypass = $Main) {
        $run = Invoke-AsAdmin $Lab -Params @{ Main = $Main; Bypass = $Bypass } {
            $main = $Lab.MainSsh; $byp = $Lab.Ssh
            $Params.Main | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
            $Params.Bypass | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @byp
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 2
        $run
    }

    # Counts packets from an address to a port as they arrive at a node (an nft counter in its namespace,
    # in a table of the test's own): the device's input, or the bypass router's prerouting (-Node byp).
    function Add-Probe($Lab, [string] $Node, [string] $Hook, [string[]] $Match) {
        Invoke-LabCommand $Lab $Node 'nft add table ip probe' | Out-Null
        Invoke-LabCommand $Lab $Node "nft add chain ip probe $Hook { type filter hook $Hook priority -300 ; }" | Out-Null
        foreach ($m in $Match) { Invoke-LabCommand $Lab $Node "nft add rule ip probe $Hook $m counter" | Out-Null }
    }

    function Get-Count($Lab, [string] $Node, [string] $From, [string] $Protocol, [int] $Port) {
        $line = Invoke-LabCommand $Lab $Node 'nft list table ip probe' | Where-Object { $_ -match "ip saddr $([regex]::Escape($From)) $Protocol dport $Port counter packets (\d+)" } | Select-Object -First 1
        $line | Should -Not -BeNullOrEmpty -Because "$Node counts $Protocol $Port from $From"
        [int]([regex]::Match($line, 'packets (\d+)').Groups[1].Value)
    }

    # Packets the device received from an address to one of its ports.
    function Get-DeviceCount($Lab, [string] $From, [string] $Protocol, [int] $Port) { Get-Count $Lab dev $From $Protocol $Port }

    function Get-BothTables($Lab) { (Get-LabNatTable $Lab -Node main) + "`n----`n" + (Get-LabNatTable $Lab) }
}

Describe 'AllowedSource with the <Backend> backend' -ForEach @(@{ Backend = 'Nftables' }, @{ Backend = 'Iptables' }) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -CommandOptions @{ Backend = $Backend } `
            -Service 'tcp:80', 'tcp:81', 'udp:9000'
        # A second address for the internet client, and counters on the device for what reaches it.
        Invoke-LabCommand $Lab inet "ip addr add $Other/24 dev eth0" | Out-Null
        Add-Probe $Lab dev input @(foreach ($from in $Allowed, $Other) { foreach ($probe in 'tcp dport 81', 'udp dport 9000', 'tcp dport 80') { "ip saddr $from $probe" } })
        # What the main router sent on to the bypass router, before either's NAT rules see it.
        Add-Probe $Lab byp prerouting "ip saddr $Other tcp dport 18080"
        Invoke-BothHops $Lab $Open | Out-Null
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'forwards both client addresses while no forward is restricted (the second address works)' {
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Other | Should -Be "device tcp 81 peer $Other"
        # This UDP flow stays in both routers' conntrack tables: the restriction must end it too.
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9100 -SourceAddress $Other -SourcePort 40100 | Should -Be "device udp 9000 peer $Other"
        Get-DeviceCount $Lab $Other udp 9000 | Should -BeGreaterThan 0
    }

    It 'applies the restriction to both hops as a modification of the restricted forwards only' {
        $run = Invoke-BothHops $Lab $Restricted
        foreach ($result in $run.Output) {
            @($result.Modified) | Sort-Object | Should -Be @('game', 'web') -Because "$($result.Role) hop"
            @($result.Added) + @($result.Removed) | Where-Object { $_ } | Should -BeNullOrEmpty
        }
    }

    It 'carries an allowed client through both NATs to the device, which sees its real address' {
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Allowed | Should -Be "device tcp 81 peer $Allowed"
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9100 -SourceAddress $Allowed | Should -Be "device udp 9000 peer $Allowed"
        Get-DeviceCount $Lab $Allowed tcp 81 | Should -BeGreaterThan 0
    }

    It 'never lets a client that is not allowed reach the device, not even on the UDP flow it had before' {
        $tcpBefore = Get-DeviceCount $Lab $Other tcp 81
        $udpBefore = Get-DeviceCount $Lab $Other udp 9000
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Other -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9100 -SourceAddress $Other -SourcePort 40100 -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Get-DeviceCount $Lab $Other tcp 81 | Should -Be $tcpBefore
        Get-DeviceCount $Lab $Other udp 9000 | Should -Be $udpBefore
        # The same client still reaches the forward that admits everyone.
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8081 -SourceAddress $Other | Should -Be "device tcp 80 peer $Other"
    }

    It 'holds the restriction in the rules of both routers' {
        $main = Get-LabNatTable $Lab -Node main
        $bypass = Get-LabNatTable $Lab
        if ($Backend -eq 'Nftables') {
            $main | Should -Match '(tcp|6) \. 8080 \. 198\.51\.100\.0/24'
            $main | Should -Match 'meta l4proto \. th dport @restricted meta l4proto \. th dport \. ip saddr != @allowed return'
            $bypass | Should -Match '(tcp|6) \. 192\.0\.2\.2 \. 18080 \. 203\.0\.113\.10'
            $bypass | Should -Match '(udp|17) \. 192\.0\.2\.2 \. 19100 \. 192\.0\.2\.30'
            $bypass | Should -Match 'meta l4proto \. ip daddr \. th dport @restricted meta l4proto \. ip daddr \. th dport \. ip saddr != @allowed return'
        } else {
            @($main -split "`n" | Where-Object { $_ -match '^-A BYPASSNAT_MAIN_PREROUTING -s 203\.0\.113\.10/32 -i wan0 .*--dport 8080 ' }) | Should -HaveCount 1
            @($main -split "`n" | Where-Object { $_ -match '^-A BYPASSNAT_MAIN_PREROUTING -s 198\.51\.100\.0/24 -i wan0 .*--dport 8080 ' }) | Should -HaveCount 1
            @($bypass -split "`n" | Where-Object { $_ -match '^-A BYPASSNAT_PREROUTING -s (203\.0\.113\.10|192\.0\.2\.30)/32 -d 192\.0\.2\.2/32 -p udp .*--dport 19100 ' }) | Should -HaveCount 2
            # No unrestricted DNAT rule is left for a restricted forward.
            @($bypass -split "`n" | Where-Object { $_ -match '^-A BYPASSNAT_PREROUTING -d .*name=(web|game);' }) | Should -HaveCount 0
        }
    }

    It 'reads the restriction back from both routers, and finds no drift' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Restricted } {
            $main = $Lab.MainSsh; $byp = $Lab.Ssh
            foreach ($router in $main, $byp) {
                Get-BypassForward @router | ForEach-Object { "$($router.ComputerName) $($_.Name)=$($_.AllowedSource.ToString())" }
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @router -Quiet
            }
        }
        $run.Errors | Should -BeNullOrEmpty
        $lines = @($run.Output | Where-Object { $_ -is [string] })
        foreach ($router in '192.0.2.1', '192.0.2.2') {
            $lines | Should -Contain "$router web=198.51.100.0/24 203.0.113.10"
            $lines | Should -Contain "$router game=192.0.2.30 203.0.113.10"
            $lines | Should -Contain "$router open="
        }
        @($run.Output | Where-Object { $_ -is [bool] }) | Should -Be @($true, $true)
    }

    It 'exports the restriction with Export-Csv, and the exported file imports to the same forwards' {
        $run = Invoke-AsAdmin $Lab {
            $byp = $Lab.Ssh
            $file = Join-Path ([IO.Path]::GetTempPath()) "allowed-$([guid]::NewGuid().ToString('N')).csv"
            try {
                Get-BypassForward @byp | Export-Csv $file
                (Import-Csv $file | Where-Object Name -eq 'web').AllowedSource
                Import-Csv $file | New-BypassForward | Test-BypassForward @byp -Quiet
            } finally { Remove-Item $file -ErrorAction Ignore }
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @('198.51.100.0/24 203.0.113.10', $true)
    }

    It 'reports drift when the desired restriction differs from the router''s' {
        $other = $Restricted -replace '203\.0\.113\.10 198\.51\.100\.0/24', '203.0.113.0/24'
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $other } {
            $byp = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @byp |
                ForEach-Object { "$($_.Name) $($_.Kind) [$($_.Fields -join ',')] $($_.Detail)" }
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be 'web Different [AllowedSource] AllowedSource: 198.51.100.0/24 203.0.113.10 -> 203.0.113.0/24'
    }

    It 'reports drift when the router''s restriction was loosened behind its back, and the next apply closes it again' {
        if ($Backend -eq 'Nftables') {
            Invoke-LabCommand $Lab byp 'nft flush set ip bypassnat restricted' | Out-Null
        } else {
            Invoke-LabCommand $Lab byp 'iptables -t nat -I BYPASSNAT_PREROUTING -d 192.0.2.2/32 -p tcp -m tcp --dport 18080 -m comment --comment bypassnat;name=web;ext=8080 -j DNAT --to-destination 192.0.2.20:81' | Out-Null
        }
        # Loosened on the bypass router: with an unrestricted main hop the other client would now get through.
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Restricted } {
            $byp = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @byp -Quiet
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @byp
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @byp -Quiet
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0] | Should -BeFalse
        $run.Output[1].Changed | Should -BeTrue
        $run.Output[2] | Should -BeTrue
    }

    It 'restricts at each hop on its own: <Hop> restricted, the other hop open' -ForEach @(
        @{ Hop = 'the bypass router'; Main = 'Open'; Bypass = 'Restricted' },
        @{ Hop = 'the main router'; Main = 'Restricted'; Bypass = 'Open' }
    ) {
        Invoke-BothHops $Lab (Get-Variable $Main -ValueOnly) (Get-Variable $Bypass -ValueOnly) | Out-Null
        $before = Get-DeviceCount $Lab $Other tcp 81
        $atBypass = Get-Count $Lab byp $Other tcp 18080
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Other -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Get-DeviceCount $Lab $Other tcp 81 | Should -Be $before
        # An open main router sends it on, and the bypass router's rules stop it; a restricted one never sends it.
        if ($Main -eq 'Open') { Get-Count $Lab byp $Other tcp 18080 | Should -BeGreaterThan $atBypass }
        else { Get-Count $Lab byp $Other tcp 18080 | Should -Be $atBypass }
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Allowed | Should -Be "device tcp 81 peer $Allowed"
    }

    It 'refuses a CSV with a bad AllowedSource on row <Row>, naming row, field and value, and changes neither router' -ForEach @(
        @{ Row = 2; Value = '198.51.100.7/24'; Why = 'write 198\.51\.100\.0/24 for the network' },
        @{ Row = 3; Value = '203.0.113.300'; Why = 'an entry is an IPv4 address' }
    ) {
        $lines = $Restricted -split "`n"
        $lines[$Row] = $lines[$Row] -replace ',[^,]*$', ",198.51.100.9 $Value"
        $before = Get-BothTables $Lab
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $lines -join "`n" } {
            $main = $Lab.MainSsh; $byp = $Lab.Ssh
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $forwards | Invoke-BypassForwardApply @main
            $forwards | Invoke-BypassForwardApply @byp
        }
        $run.Output | Should -BeNullOrEmpty
        $bad = @($run.Errors | Where-Object FullyQualifiedErrorId -like 'BypassNat.InvalidSource*')
        $bad | Should -HaveCount 1
        $bad[0].Message | Should -Match "^Row $Row \(CSV line $($Row + 1)\): AllowedSource '$([regex]::Escape($Value))' is not valid: .*$Why"
        $bad[0].Category | Should -Be 'InvalidData'
        ($run.Errors | Where-Object FullyQualifiedErrorId -like 'BypassNat.InvalidForwardSet*').Message | Should -Match 'nothing will be applied'
        Get-BothTables $Lab | Should -Be $before
    }

    It 'restores the restriction from -Persist''s saved set after a flush' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Restricted } {
            $byp = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @byp -Persist
        }
        $run.Errors | Should -BeNullOrEmpty
        # The main router admits everyone now, so only the restored bypass hop can stop the other client.
        Invoke-BothHops $Lab $Open $Restricted | Out-Null
        if ($Backend -eq 'Nftables') { Invoke-LabCommand $Lab byp 'nft delete table ip bypassnat' | Out-Null }
        else { Invoke-LabCommand $Lab byp 'iptables -t nat -F BYPASSNAT_PREROUTING' | Out-Null }
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Allowed -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab 'sh /etc/bypassnat/restore.sh' | Out-Null
        $before = Get-DeviceCount $Lab $Other tcp 81
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Other -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Get-DeviceCount $Lab $Other tcp 81 | Should -Be $before
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Allowed | Should -Be "device tcp 81 peer $Allowed"
    }
}

# The OpenWrt main router (backend Uci): AllowedSource as the redirect's src_ip, which firewall4
# renders into its own DNAT rule. Needs build.ps1 OpenWrtLab; reported as skipped without its cache.
Describe 'AllowedSource on an OpenWrt main router (UCI redirects)' -Skip:($null -ne $OpenWrtSkipReason) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Router openwrt -Main openwrt -Service 'tcp:81'
        Invoke-LabCommand $Lab inet "ip addr add $Other/24 dev eth0" | Out-Null
        Add-Probe $Lab dev input "ip saddr $Other tcp dport 81"
        # Only the main router restricts here: the bypass hop admits everyone.
        $script:UciCsv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,AllowedSource
web,Tcp,8080,192.0.2.2,192.0.2.20,81,203.0.113.10
'@
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $UciCsv } {
            $main = $Lab.MainSsh; $byp = $Lab.Ssh
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $forwards | Invoke-BypassForwardApply @main
            $forwards | ForEach-Object { $_.WithAllowedSource([BypassNat.SourceSet]::Any) } | Invoke-BypassForwardApply @byp
        }
        $run.Errors | Should -BeNullOrEmpty
        $script:Applied = $run.Output
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'writes the one entry as the redirect''s src_ip, which firewall4 renders into its DNAT' {
        $Applied[0].Backend | Should -Be 'Uci'
        Invoke-LabRouter $Lab -Main 'uci get firewall.bypassnat_web.src_ip' | Should -Be '203.0.113.10'
        (Invoke-LabRouter $Lab -Main 'nft -s list table inet fw4') -join "`n" | Should -Match 'ip saddr 203\.0\.113\.10 tcp dport 8080 .*dnat ip to 192\.0\.2\.2:8080 comment "!fw4: web"'
    }

    It 'forwards the allowed client, and the other one never reaches the device' {
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Allowed | Should -Be "device tcp 81 peer $Allowed"
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -SourceAddress $Other -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Get-DeviceCount $Lab $Other tcp 81 | Should -Be 0
    }

    It 'reads the source back with Get-BypassForward -Role Main, and finds no drift' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $UciCsv } {
            $main = $Lab.MainSsh
            Get-BypassForward @main | ForEach-Object { "$($_.Name)=$($_.AllowedSource.ToString())" }
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @main -Quiet
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @('web=203.0.113.10', $true)
    }

    It 'refuses what a redirect cannot hold exactly (<Why>) and changes nothing' -ForEach @(
        @{ Why = 'two entries'; Csv = "Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,AllowedSource`nweb,Tcp,8080,192.0.2.2,192.0.2.20,81,203.0.113.10 198.51.100.0/24"; Says = 'holds one address or prefix' },
        @{ Why = 'beside a PublicAddress'; Csv = "Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,AllowedSource,PublicAddress`nweb,Tcp,8080,192.0.2.2,192.0.2.20,81,203.0.113.10,203.0.113.1"; Says = 'reflection' }
    ) {
        $before = (Invoke-LabRouter $Lab -Main 'uci show firewall') -join "`n"
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $main = $Lab.MainSsh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
        }
        $run.Output | Should -BeNullOrEmpty
        $refused = @($run.Errors | Where-Object FullyQualifiedErrorId -like 'BypassNat.SourceNotUci*')
        $refused | Should -HaveCount 1
        $refused[0].Message | Should -Match "Forward 'web' cannot be a UCI redirect.*$Says.*Nothing was changed on the router"
        (Invoke-LabRouter $Lab -Main 'uci show firewall') -join "`n" | Should -Be $before
        Invoke-LabRouter $Lab -Main 'uci changes firewall' | Should -BeNullOrEmpty
    }
}
