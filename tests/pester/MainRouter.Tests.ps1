# The main router's hop: both halves of the double forward applied by BypassNat from one CSV, to a
# main router that runs sshd in the lab, with a port remapped on each hop (8080 -> 18080 -> 80).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,18080,192.0.2.20,80
game,Udp,9100,192.0.2.2,19100,192.0.2.20,9000
admin,Tcp,8443,192.0.2.2,18443,192.0.2.20,443
'@
    $script:WithoutAdmin = ($Csv -split "`n" | Where-Object { $_ -notmatch '^admin,' }) -join "`n"

    # Applies a CSV to both routers in one admin step: the main router first, then the bypass router.
    function Invoke-BothHops($Lab, [string] $CsvText, [hashtable] $MainExtra = @{}) {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; MainExtra = $MainExtra } {
            $main = $Lab.MainSsh; $byp = $Lab.Ssh; $extra = $Params.MainExtra
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $forwards | Invoke-BypassForwardApply @main -PublicAddress 203.0.113.1 @extra
            $forwards | Invoke-BypassForwardApply @byp
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 2
        $run
    }

    function Get-BothTables($Lab) { (Get-LabNatTable $Lab -Node main) + "`n----`n" + (Get-LabNatTable $Lab) }
}

# The checks that do not depend on the backend (placement, lockout, a WAN address change) run once.
Describe 'The main router''s hop with the <Backend> backend' -ForEach @(@{ Backend = 'Nftables'; Once = $true }, @{ Backend = 'Iptables'; Once = $false }) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -CommandOptions @{ Backend = $Backend } `
            -Service 'tcp:80', 'udp:9000', 'tcp:443', 'tcp:30000', 'udp:30000'
        $script:First = Invoke-BothHops $Lab $Csv
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'applies each router''s half of one CSV' {
        $main, $byp = $First.Output
        $main.ComputerName | Should -Be '192.0.2.1'
        $main.Role | Should -Be 'Main'
        $main.Backend | Should -Be $Backend
        $main.Changed | Should -BeTrue
        @($main.Added) | Sort-Object | Should -Be @('admin', 'game', 'web')
        # One command surveys (probe, addresses, WAN interface, both backends' rules), one writes (load, conntrack, read-back, under the lock).
        $main.SshCommands | Should -Be 2
        $byp.Role | Should -Be 'Bypass'
        $byp.Changed | Should -BeTrue
    }

    It 'carries TCP and UDP from the internet through both NATs to the device, which sees the real client' {
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9100 | Should -Be 'device udp 9000 peer 203.0.113.10'
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8443 | Should -Be 'device tcp 443 peer 203.0.113.10'
    }

    It 'matches WAN traffic on the interface of the default route, never on the WAN address' {
        $table = Get-LabNatTable $Lab -Node main
        if ($Backend -eq 'Nftables') {
            $table | Should -Match 'iifname "wan0" fib daddr type local'
            ($table -split "`n" | Where-Object { $_ -match '18080' -and $_ -notmatch 'role=(public|reflect)' }) -join "`n" | Should -Not -Match '203\.0\.113\.1\b'
        } else {
            $wanRules = @($table -split "`n" | Where-Object { $_ -match '^-A BYPASSNAT_MAIN_PREROUTING -i wan0 ' })
            $wanRules | Should -HaveCount 3
            $wanRules -join "`n" | Should -Not -Match '203\.0\.113\.1\b'
            $wanRules -join "`n" | Should -Match 'addrtype --dst-type LOCAL'
        }
    }

    It 'lets a LAN client whose gateway is the main router reach the service at the public address' {
        Send-LabRequest $Lab -From cl2 -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 peer 192\.0\.2\.2$'
        Send-LabRequest $Lab -From cl2 -Protocol udp -Address 203.0.113.1 -Port 9100 | Should -Match '^device udp 9000 peer 192\.0\.2\.2$'
        # Symmetric: the main router saw the reply, so its entry is not UNREPLIED.
        (Invoke-LabCommand $Lab main 'conntrack -L -p tcp --orig-src 192.0.2.31') -join "`n" | Should -Match 'dport=8080 .*src=192\.0\.2\.2 dst=192\.0\.2\.1 sport=18080'
    }

    It 'reads the main router''s half back, and finds no drift' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $main = $Lab.MainSsh
            Get-BypassForward @main | ForEach-Object { "$($_.Name) $($_.Protocol) $($_.ExternalPort) $($_.BypassAddress):$($_.BypassPort) $($_.PublicAddress)" }
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @main -PublicAddress 203.0.113.1 -Quiet
            Get-BypassForward @main -Role Bypass | ForEach-Object Name   # the bypass hop's rules are not on the main router
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 4
        $run.Output[0..2] | Sort-Object | Should -Be @('admin Tcp 8443 192.0.2.2:18443 203.0.113.1', 'game Udp 9100 192.0.2.2:19100 203.0.113.1', 'web Tcp 8080 192.0.2.2:18080 203.0.113.1')
        $run.Output[3] | Should -BeTrue
    }

    It 'writes nothing on either router when applied again' {
        $before = Get-BothTables $Lab
        $again = Invoke-BothHops $Lab $Csv
        $again.Output | ForEach-Object { $_.Changed | Should -BeFalse }
        $again.Output[0].SshCommands | Should -Be 1 -Because 'a no-op on the main hop is the survey alone'
        Get-BothTables $Lab | Should -Be $before
    }

    It 'closes a dropped row on both routers' {
        $run = Invoke-BothHops $Lab $WithoutAdmin
        $run.Output | ForEach-Object { $_.Removed | Should -Be @('admin') }
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8443 -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Get-BothTables $Lab | Should -Not -Match 'name=admin'
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
    }

    It 'keeps a 45,001-port TcpUdp range whole on the main router (two interval elements on nftables), and carries it' {
        # From the set the test before left (without admin), and back to it.
        $withSpan = $WithoutAdmin + "`nspan,TcpUdp,20000-65000,192.0.2.2,,192.0.2.20,"
        $run = Invoke-BothHops $Lab $withSpan
        $run.Output | ForEach-Object { @($_.Added) | Should -Be @('span') }
        $table = Get-LabNatTable $Lab -Node main
        if ($Backend -eq 'Nftables') {
            @($table -split "`n" | Where-Object { $_ -match 'name=span;' -and $_ -notmatch 'role=' }) | Should -HaveCount 2 -Because 'one interval element a protocol, not one a port'
            $table | Should -Match '20000-65000 comment "bypassnat;name=span;ext=20000-65000" : 192\.0\.2\.2'
        }
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 30000 | Should -Be 'device tcp 30000 peer 203.0.113.10'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 30000 | Should -Be 'device udp 30000 peer 203.0.113.10'
        Send-LabRequest $Lab -From cl2 -Protocol tcp -Address 203.0.113.1 -Port 30000 | Should -Match '^device tcp 30000 peer 192\.0\.2\.2$'
        $read = Invoke-AsAdmin $Lab -Params @{ Csv = $withSpan } {
            $main = $Lab.MainSsh
            Get-BypassForward @main -Name span | ForEach-Object { "$($_.Protocol) $($_.ExternalPort) $($_.BypassAddress):$($_.BypassPort) $($_.PublicAddress)" }
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @main -PublicAddress 203.0.113.1 -Quiet
        }
        $read.Errors | Should -BeNullOrEmpty
        $read.Output | Should -Be @('TcpUdp 20000-65000 192.0.2.2:20000-65000 203.0.113.1', $true)
        (Invoke-BothHops $Lab $WithoutAdmin).Output | ForEach-Object { @($_.Removed) | Should -Be @('span') }
    }

    # Backend-independent: checked once, in the first backend's lab.
    if ($Once) {
        It 'makes a UDP flow that started before its forward take the new forward at once' {
            # The first packet has no forward yet: the main router keeps an un-NATed conntrack entry for it.
            Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9300 -SourcePort 40300 -TimeoutSeconds 1 | Should -BeNullOrEmpty
            (Invoke-LabCommand $Lab main 'conntrack -L -p udp --orig-port-dst 9300') -join "`n" | Should -Match 'sport=40300'
            $run = Invoke-BothHops $Lab ($WithoutAdmin + "`nlate,Udp,9300,192.0.2.2,19300,192.0.2.20,9000")
            $run.Output[0].ConntrackEntriesDeleted | Should -BeGreaterThan 0
            Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9300 -SourcePort 40300 | Should -Be 'device udp 9000 peer 203.0.113.10'
        }
    }

    # Backend-independent: checked once, in the first backend's lab.
    if ($Once) {
        It 'refuses a forward for an address the router does not have, and changes nothing' {
            $before = Get-BothTables $Lab
            $run = Invoke-AsAdmin $Lab -Params @{ Csv = $WithoutAdmin + "`nstray,Tcp,8081,192.0.2.3,18081,192.0.2.20,81" } {
                $byp = $Lab.Ssh; $main = $Lab.MainSsh
                $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
                try { $forwards | Invoke-BypassForwardApply @byp } catch { $_ }
                $far = $forwards | ForEach-Object { if ($_.Name -eq 'stray') { New-BypassForward -Name stray -ExternalPort 8081 -BypassAddress 198.51.100.7 -InternalAddress 192.0.2.20 -InternalPort 81 } else { $_ } }
                try { $far | Invoke-BypassForwardApply @main } catch { $_ }
            }
            $run.Output | Should -BeNullOrEmpty
            $ids = @($run.Errors | ForEach-Object FullyQualifiedErrorId)
            $ids | Should -Contain 'BypassNat.AddressNotOnRouter,BypassNat.Commands.InvokeBypassForwardApplyCommand'
            $ids | Should -Contain 'BypassNat.BypassAddressNotOnLan,BypassNat.Commands.InvokeBypassForwardApplyCommand'
            $notOwned = $run.Errors | Where-Object FullyQualifiedErrorId -like 'BypassNat.AddressNotOnRouter*'
            $notOwned.Message | Should -Match "^Row 3: BypassAddress '192\.0\.2\.3'.*'stray'.*192\.0\.2\.2 \(lan0\)"
            $notOwned.Category | Should -Be 'InvalidData'
            ($run.Errors | Where-Object FullyQualifiedErrorId -like 'BypassNat.BypassAddressNotOnLan*').Message | Should -Match '198\.51\.100\.7.*192\.0\.2\.0/24'
            ($run.Errors | Where-Object FullyQualifiedErrorId -like 'BypassNat.InvalidForwardSet*').Message | Should -Match 'nothing was changed on 192\.0\.2\.(1|2)'
            Get-BothTables $Lab | Should -Be $before
        }
    }

    # Backend-independent: checked once, in the first backend's lab.
    if ($Once) {
        It 'refuses a forward that would capture the SSH port it came in on from the WAN side, but not from the LAN side' {
            $before = Get-BothTables $Lab
            $run = Invoke-AsAdmin $Lab -Params @{ Csv = $WithoutAdmin + "`nssh,Tcp,22,192.0.2.2,2222,192.0.2.20,22" } {
                $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
                $viaWan = $Lab.MainSsh.Clone(); $viaWan.ComputerName = '203.0.113.1'
                try { $forwards | Invoke-BypassForwardApply @viaWan -PublicAddress 203.0.113.1 } catch { $_ }
                # From the LAN side the same forward captures nothing BypassNat needs (WAN port 22 to a NAS is common).
                $main = $Lab.MainSsh
                $forwards | Invoke-BypassForwardApply @main -PublicAddress 203.0.113.1 -WhatIf
                'done'
            }
            $run.Output | Should -Be 'done'
            $capture = @($run.Errors | Where-Object FullyQualifiedErrorId -like 'BypassNat.SshPortCapture*')
            $capture | Should -HaveCount 1
            $capture[0].Message | Should -Match "ExternalPort '22'.*lock you out of the main router.*-Force"
            @($run.Errors | Where-Object FullyQualifiedErrorId -notlike 'BypassNat.SshPortCapture*' | Where-Object FullyQualifiedErrorId -notlike 'BypassNat.InvalidForwardSet*') | Should -HaveCount 0
            Get-BothTables $Lab | Should -Be $before
        }
    }

    It 'installs its own saved set with -Persist, which puts the forwards back after a flush' {
        $run = Invoke-BothHops $Lab $WithoutAdmin @{ Persist = $true }
        $run.Output[0].Persisted | Should -Be 'systemd'
        # Either way two commands: a change saves the set inside its write command, a no-op installs in one after the survey.
        $run.Output[0].SshCommands | Should -Be 2
        $files = Invoke-LabRouter $Lab -Router Main 'ls /etc/bypassnat-main /etc/systemd/system/multi-user.target.wants /etc/systemd/system/timers.target.wants'
        $files | Should -Contain 'restore.sh'
        $files | Should -Contain $(if ($Backend -eq 'Nftables') { 'ruleset.nft' } else { 'ruleset.iptables' })
        $files | Should -Contain 'bypassnat-main.service'
        $files | Should -Contain 'bypassnat-main-watch.timer'
        $files | Should -Not -Contain 'bypassnat.service'
        # The bypass router's half has a -Persist of its own; the main router's did not touch it.
        Invoke-LabRouter $Lab 'ls /etc/bypassnat 2>/dev/null || true' | Should -BeNullOrEmpty

        if ($Backend -eq 'Nftables') { Invoke-LabCommand $Lab main 'nft delete table ip bypassnat_main' | Out-Null }
        else { Invoke-LabCommand $Lab main 'iptables -t nat -F' | Out-Null }
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 2 | Should -BeNullOrEmpty
        $exec = (Invoke-LabRouter $Lab -Router Main "grep '^ExecStart=' /etc/systemd/system/bypassnat-main-watch.service") -replace '^ExecStart=', ''
        Invoke-LabRouter $Lab -Router Main $exec | Out-Null
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
        Send-LabRequest $Lab -From cl2 -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
    }

    # Backend-independent: checked once, in the first backend's lab.
    if ($Once) {
        It 'keeps forwarding when the WAN address changes (a PPPoE reconnect), with no re-apply' {
            # As after a reconnect: the old address is gone, a new one and a new default route came up.
            Invoke-LabCommand $Lab main 'ip addr del 203.0.113.1/24 dev wan0' | Out-Null
            Invoke-LabCommand $Lab main 'ip addr add 203.0.113.2/24 dev wan0' | Out-Null
            Invoke-LabCommand $Lab main 'ip route replace default via 203.0.113.254 dev wan0' | Out-Null
            Invoke-LabCommand $Lab inet 'ip route replace default via 203.0.113.2' | Out-Null
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.2 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
            Send-LabRequest $Lab -Protocol udp -Address 203.0.113.2 -Port 9100 | Should -Be 'device udp 9000 peer 203.0.113.10'
        }
    }

    # Backend-independent: checked once, in the first backend's lab.
    if ($Once) {
        It 'holds both hops on one box without either overwriting the other''s rules, saved set or removal' {
            # The main router as a bypass router too: its own address forwards to the device.
            $run = Invoke-AsAdmin $Lab {
                $main = $Lab.MainSsh.Clone(); $main.Remove('Role')
                New-BypassForward -Name local -Protocol Tcp -ExternalPort 8088 -BypassAddress 192.0.2.1 -InternalAddress 192.0.2.20 -InternalPort 80 |
                    Invoke-BypassForwardApply @main -Persist
                $mainHop = $Lab.MainSsh
                Get-BypassForward @mainHop | ForEach-Object Name
                Get-BypassForward @main | ForEach-Object Name
            }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output[0].Role | Should -Be 'Bypass'
            $run.Output[0].Persisted | Should -Be 'systemd'
            @($run.Output[1..($run.Output.Count - 2)]) | Sort-Object | Should -Be @('game', 'web')
            $run.Output[-1] | Should -Be 'local'
            $files = Invoke-LabRouter $Lab -Router Main 'ls /etc/bypassnat /etc/bypassnat-main /etc/systemd/system'
            foreach ($name in 'ruleset.nft', 'bypassnat.service', 'bypassnat-watch.timer', 'bypassnat-main.service', 'bypassnat-main-watch.timer') { $files | Should -Contain $name }
            Invoke-LabRouter $Lab -Router Main 'cat /etc/bypassnat-main/ruleset.nft' | Should -Contain 'table ip bypassnat_main {'
            Invoke-LabRouter $Lab -Router Main 'cat /etc/bypassnat/ruleset.nft' | Should -Contain 'table ip bypassnat {'
            Send-LabRequest $Lab -From cl2 -Protocol tcp -Address 192.0.2.1 -Port 8088 | Should -Match '^device tcp 80 '
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.2 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'

            # Removing every trace of the main hop leaves the bypass hop on the same box whole.
            $run = Invoke-AsAdmin $Lab {
                $mainHop = $Lab.MainSsh
                $records = @(Remove-BypassForward -All @mainHop -Confirm:$false -PassThru -Verbose 4>&1)
                ($records | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | ForEach-Object Name | Sort-Object) -join ','
                # One verbose line per SSH command: the survey, then one locked command (uninstall, removal, read-back).
                'ssh commands: ' + @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match '^SSH 192\.0\.2\.1: .+: exit \d+ in ' }).Count
                'left:'
                Get-BypassForward @mainHop | ForEach-Object Name
                $main = $Lab.MainSsh.Clone(); $main.Remove('Role')
                Get-BypassForward @main | ForEach-Object Name
            }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output | Should -Be @('game,web', 'ssh commands: 2', 'left:', 'local') -Because 'the main hop removed in one command after the survey, the bypass hop kept'
            $files = Invoke-LabRouter $Lab -Router Main 'ls /etc/systemd/system; ls /etc/bypassnat; [ ! -e /etc/bypassnat-main ] && echo no-main-dir'
            $files | Should -Contain 'bypassnat.service'
            $files | Should -Not -Contain 'bypassnat-main.service'
            $files | Should -Contain 'ruleset.nft'
            $files | Should -Contain 'no-main-dir'
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.2 -Port 8080 -TimeoutSeconds 2 | Should -BeNullOrEmpty
            Send-LabRequest $Lab -From cl2 -Protocol tcp -Address 192.0.2.1 -Port 8088 | Should -Match '^device tcp 80 '
        }
    }

}
