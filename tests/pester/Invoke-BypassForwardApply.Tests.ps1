# End to end against real kernels: a network-namespace lab (tests/lab), sshd on the bypass router,
# and the module running on the admin workstation inside the lab.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force

    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,Comment
web,Tcp,8080,192.0.2.2,8080,192.0.2.20,80,NAS web UI
game,Udp,9000,192.0.2.2,,192.0.2.20,,
voip,TcpUdp,9001-9003,192.0.2.2,19001-19003,192.0.2.20,9001-9003,
'@

    # Import-Csv | New-BypassForward | Invoke-BypassForwardApply on the admin workstation, as a user runs it.
    function Invoke-Apply([string] $CsvText, [hashtable] $Extra = @{}) {
        Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; Extra = $Extra } {
            $path = Join-Path ([IO.Path]::GetTempPath()) "forwards-$PID.csv"
            Set-Content $path $Params.Csv
            $ssh = $Lab.Ssh
            $extra = $Params.Extra
            Import-Csv $path | New-BypassForward | Invoke-BypassForwardApply @ssh @extra
        }
    }

    # The forwards with their defaults filled in, to program the main router's side of the lab.
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    function Get-Forwards([string] $CsvText) { $CsvText | ConvertFrom-Csv | New-BypassForward }

    function Assert-Answers([string] $Protocol, [int] $Port, [string] $Expected, [string] $From = 'inet', [string] $Address = '203.0.113.1') {
        $answer = Send-LabRequest $Lab -Protocol $Protocol -Address $Address -Port $Port -From $From
        $answer | Should -Match "^$Expected" -Because "$Protocol $Address`:$Port from $From should reach the device"
    }
}

Describe 'Invoke-BypassForwardApply with the <Backend> backend' -ForEach @(@{ Backend = 'Iptables' }, @{ Backend = 'Nftables' }) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -CommandOptions @{ Backend = $Backend } -Service @(
            'tcp:80', 'udp:9000', 'tcp:9001', 'tcp:9002', 'tcp:9003', 'udp:9001', 'udp:9002', 'udp:9003', 'udp:5000', 'tcp:8081')
        # The lines of BypassNat's own rules for one forward, in either backend's listing.
        function Get-ForwardLines([string] $Ruleset, [string] $Name) {
            # An nft element may share its line with the map's opening or closing brace.
            @($Ruleset -split "`n" | Where-Object { $_ -like "*name=$Name;*" } |
                ForEach-Object { ($_ -replace '^.*elements = \{', '' -replace '\}\s*$', '').Trim().TrimEnd(',').Trim() } | Sort-Object)
        }
    }

    AfterAll {
        Stop-BypassLab $script:Lab
    }

    It 'reproduces the bug: a main-router forward straight to the device gets no answer' {
        Set-MainRouterForward $Lab -Forward (Get-Forwards $Csv) -Direct
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -BeNullOrEmpty
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -BeNullOrEmpty
        # The device itself answers: it is the path that is broken, not the service.
        Send-LabRequest $Lab -Protocol tcp -Address 192.0.2.20 -Port 80 -From adm | Should -Match '^device tcp 80'
    }

    It 'fixes it with the double forward: TCP, UDP and port ranges reach the device and the answers come back' {
        Set-MainRouterForward $Lab -Forward (Get-Forwards $Csv)
        $run = Invoke-Apply $Csv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 1
        $result = $run.Output[0]
        $result.Changed | Should -BeTrue
        $result.Backend | Should -Be $Backend
        @($result.Added) | Sort-Object | Should -Be @('game', 'voip', 'web')

        Assert-Answers tcp 8080 'device tcp 80 '
        Assert-Answers udp 9000 'device udp 9000 '
        foreach ($port in 9001..9003) {
            Assert-Answers tcp $port "device tcp $port "
            Assert-Answers udp $port "device udp $port "
        }
    }

    It 'leaves the proxy''s rules alone and runs its own first' {
        $nat = Get-LabNatTable $Lab
        $nat | Should -Match '(?m)^-A CLASH -p tcp -j REDIRECT --to-ports 7892$'
        $nat | Should -Match '(?m)^-A POSTROUTING -o lan0 -j MASQUERADE$'
        $pre = @($nat -split "`n" | Where-Object { $_ -like '-A PREROUTING *' })
        $pre | Should -Contain '-A PREROUTING -p tcp -j CLASH'
        if ($Backend -eq 'Iptables') {
            $pre[0] | Should -Be '-A PREROUTING -j BYPASSNAT_PREROUTING'
            $nat | Should -Match '(?m)^-A BYPASSNAT_PREROUTING -d 192\.0\.2\.2/32 -p tcp -m tcp --dport 8080 -m comment --comment "bypassnat;name=web;ext=8080;note=NAS%20web%20UI" -j DNAT --to-destination 192\.0\.2\.20:80$'
            $nat | Should -Not -Match 'table ip bypassnat'
        } else {
            $pre | Should -HaveCount 1
            $nat | Should -Match 'type nat hook prerouting priority dstnat - 10; policy accept;'
            $nat | Should -Match 'tcp \. 192\.0\.2\.2 \. 8080 comment "bypassnat;name=web;ext=8080" : 192\.0\.2\.20 \. 80'
            # The user's comment lives in a set of its own (nft keeps 128 bytes an element comment).
            $nat | Should -Match 'comment "bypassnat;name=web;note=NAS%20web%20UI"'
            $nat | Should -Not -Match 'BYPASSNAT_'
        }
    }

    It 'is a no-op the second time: nothing is written and the result says so' {
        $before = Get-LabNatTable $Lab
        $run = Invoke-Apply $Csv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Changed | Should -BeFalse
        @($run.Output[0].Added).Count + @($run.Output[0].Removed).Count + @($run.Output[0].Modified).Count | Should -Be 0
        @($run.Output[0].Unchanged) | Sort-Object | Should -Be @('game', 'voip', 'web')
        Get-LabNatTable $Lab | Should -Be $before
    }

    It 'reads the forwards back with Get-BypassForward, and Export-Csv of them reimports to the same set' {
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            Get-BypassForward @ssh | Sort-Object Name | ConvertTo-Csv
        }
        $run.Errors | Should -BeNullOrEmpty
        $got = @($run.Output | ConvertFrom-Csv | New-BypassForward)
        $expected = @(Get-Forwards $Csv | Sort-Object Name)
        $got | Should -HaveCount 3
        for ($i = 0; $i -lt 3; $i++) {
            foreach ($p in 'Name', 'Protocol', 'ExternalPort', 'BypassAddress', 'BypassPort', 'InternalAddress', 'InternalPort', 'SourceNat', 'Comment', 'Enabled') {
                "$($got[$i].$p)" | Should -Be "$($expected[$i].$p)" -Because "$p of $($expected[$i].Name)"
            }
        }
    }

    It 'shows the difference with -WhatIf and changes nothing' {
        $before = Get-LabNatTable $Lab
        $changed = $Csv -replace '(?m)^game,.*\r?\n', ''
        $run = Invoke-Apply $changed @{ WhatIf = $true }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 0
        $run.Console | Should -Match 'What if:'
        $run.Console | Should -Match 'remove +game'
        $run.Console | Should -Match 'unchanged: web, voip'
        Get-LabNatTable $Lab | Should -Be $before
    }

    It 'changes exactly the difference when the CSV changes' {
        $before = Get-LabNatTable $Lab
        $changed = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,Comment
web,Tcp,8080,192.0.2.2,8080,192.0.2.20,80,NAS web UI
voip,Tcp,9001-9003,192.0.2.2,19001-19003,192.0.2.20,9001-9003,
admin,Tcp,8443,192.0.2.2,,192.0.2.20,8081,
'@
        Set-MainRouterForward $Lab -Forward ((Get-Forwards $Csv) + (Get-Forwards $changed | Where-Object Name -eq admin))
        $run = Invoke-Apply $changed
        $run.Errors | Should -BeNullOrEmpty
        $result = $run.Output[0]
        $result.Changed | Should -BeTrue
        @($result.Added) | Should -Be @('admin')
        @($result.Removed) | Should -Be @('game')
        @($result.Modified) | Should -Be @('voip')
        @($result.Unchanged) | Should -Be @('web')

        $after = Get-LabNatTable $Lab
        Get-ForwardLines $after web | Should -Be (Get-ForwardLines $before web)
        Get-ForwardLines $after game | Should -HaveCount 0
        @(Get-ForwardLines $after voip | Where-Object { $_ -match '-p udp |^udp \. ' }) | Should -HaveCount 0
        @(Get-ForwardLines $after voip | Where-Object { $_ -match '-p tcp |^tcp \. ' }) | Should -Not -BeNullOrEmpty

        Assert-Answers tcp 8443 'device tcp 8081 '
        Assert-Answers tcp 8080 'device tcp 80 '
        Assert-Answers tcp 9002 'device tcp 9002 '
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -BeNullOrEmpty
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9002 | Should -BeNullOrEmpty
    }

    It 'restores every forward after its rules were flushed' {
        $run = Invoke-Apply $Csv
        $run.Errors | Should -BeNullOrEmpty
        Set-MainRouterForward $Lab -Forward (Get-Forwards $Csv)
        # The proxy's clean-up flushes the nat table; nftables forwards live elsewhere, so delete that table too.
        Invoke-LabCommand $Lab byp 'iptables -t nat -F' | Out-Null
        if ($Backend -eq 'Nftables') { Invoke-LabCommand $Lab byp 'nft delete table ip bypassnat' | Out-Null }
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -BeNullOrEmpty

        $run = Invoke-Apply $Csv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Changed | Should -BeTrue
        @($run.Output[0].Added) | Sort-Object | Should -Be @('game', 'voip', 'web')
        Assert-Answers tcp 8080 'device tcp 80 '
        Assert-Answers udp 9000 'device udp 9000 '
        Assert-Answers tcp 9003 'device tcp 9003 '
        Assert-Answers udp 9001 'device udp 9001 '
    }

    It 'applies nothing from a CSV with bad rows, and names each bad row' {
        $before = Get-LabNatTable $Lab
        $bad = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,8080,192.0.2.20,80
extra,Tcp,70000,192.0.2.2,,192.0.2.20,80
other,Udp,5000,192.0.2.2,,192.0.2.999,
web,Tcp,8090,192.0.2.2,,192.0.2.20,80
'@
        $run = Invoke-Apply $bad
        $run.Output | Should -HaveCount 0
        $messages = @($run.Errors | ForEach-Object { "$($_.Message)" })
        @($messages | Where-Object { $_ -like "Row 2 (CSV line 3): ExternalPort '70000'*" }) | Should -HaveCount 1
        @($messages | Where-Object { $_ -like "Row 3 (CSV line 4): InternalAddress '192.0.2.999'*" }) | Should -HaveCount 1
        @($messages | Where-Object { $_ -like "Row 4 (CSV line 5): Name 'web'*already used by row 1*" }) | Should -HaveCount 1
        Get-LabNatTable $Lab | Should -Be $before
        Assert-Answers tcp 8080 'device tcp 80 '
    }

    It 'refuses a wrong host key, shows the real fingerprint, and applies nothing' {
        $before = Get-LabNatTable $Lab
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Select-Object -First 1 |
                Invoke-BypassForwardApply -ComputerName 192.0.2.2 -KeyFile $Lab.Ssh.KeyFile -Backend $Lab.Ssh.Backend -HostKeyFingerprint 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
        }
        $run.Output | Should -HaveCount 0
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.HostKeyMismatch*'
        $run.Errors[0].Category | Should -Be 'SecurityError'
        $run.Errors[0].Message | Should -BeLike "*$($Lab.Fingerprint)*"
        Get-LabNatTable $Lab | Should -Be $before
    }

    It 'refuses an unknown host key, and accepts it pinned with -HostKeyFingerprint' {
        $run = Invoke-AsAdmin $Lab {
            $empty = New-TemporaryFile
            Get-BypassForward -ComputerName 192.0.2.2 -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile $empty.FullName
        }
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.HostKeyUnknown*'
        $run.Errors[0].Message | Should -BeLike "*-HostKeyFingerprint $($Lab.Fingerprint)*"

        $run = Invoke-AsAdmin $Lab { Get-BypassForward -ComputerName 192.0.2.2 -KeyFile $Lab.Ssh.KeyFile -Backend $Lab.Ssh.Backend -HostKeyFingerprint $Lab.Fingerprint }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output).Count | Should -Be 3
    }

    It 'sends a UDP flow that reached the router before the forward to the device right after the apply' {
        $withoutGame = $Csv -replace '(?m)^game,.*\r?\n', ''
        (Invoke-Apply $withoutGame).Errors | Should -BeNullOrEmpty
        Set-MainRouterForward $Lab -Forward (Get-Forwards $Csv)

        # The flow starts while the bypass router has no rule for it: conntrack records it un-NATed.
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 -SourcePort 40000 -TimeoutSeconds 1 | Should -BeNullOrEmpty
        (Invoke-LabCommand $Lab byp 'conntrack -L -p udp --orig-port-dst 9000') -join "`n" | Should -Match 'src=203\.0\.113\.10 dst=192\.0\.2\.2 sport=40000 dport=9000'

        $run = Invoke-Apply $Csv
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output[0].Added) | Should -Be @('game')
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 -SourcePort 40000 | Should -Match '^device udp 9000 '
        $run.Output[0].ConntrackEntriesDeleted | Should -BeGreaterThan 0
    }

    It 'works as a non-root user through sudo -n, and says what to do without -Sudo' {
        $asUser = @{ UserName = 'bnadmin' }
        $run = Invoke-Apply $Csv $asUser
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.NotRoot*'
        $run.Errors[0].Category | Should -Be 'PermissionDenied'
        $run.Errors[0].Message | Should -BeLike '*-Sudo*'
        # The router uses nftables, which a login that is not root cannot even probe: the message must not call it an iptables router.
        $run.Errors[0].Message | Should -BeLike "*did not let user 'bnadmin' read its NAT rules: neither nft nor iptables-save runs for a user who is not root*"
        $run.Errors[0].Message | Should -Not -Match 'Iptables rules'

        # A fresh boot: no lock file yet, in a folder only root may write (as /run is on a router).
        Invoke-LabRouter $Lab 'rm -f /run/bypassnat/lock /run/bypassnat/holder /run/bypassnat/generation' | Out-Null
        $changed = $Csv -replace '(?m)^game,.*\r?\n', ''
        $run = Invoke-Apply $changed @{ UserName = 'bnadmin'; Sudo = $true }
        $run.Errors | Should -BeNullOrEmpty
        $run.Warnings -match 'not serialised' | Should -BeNullOrEmpty -Because 'the sudo login makes the lock file through sudo'
        (Invoke-LabRouter $Lab 'stat -c %U /run/bypassnat/lock; cat /run/bypassnat/holder') -join "`n" | Should -Match '(?s)^root\b.*as bnadmin'
        @($run.Output[0].Removed) | Should -Be @('game')
        Assert-Answers tcp 8080 'device tcp 80 '
        (Invoke-Apply $Csv).Errors | Should -BeNullOrEmpty
    }

    It 'says what the router holds when -Persist is refused to a sudo user, once, without claiming an undo failed' {
        $before = Get-LabNatTable $Lab
        $asUser = @{ UserName = 'bnadmin'; Sudo = $true; Persist = $true }
        $changed = $Csv -replace '(?m)^game,.*\r?\n', ''
        # No earlier -Persist: the save is refused at its first sudo, and nothing of it is left.
        $run = Invoke-Apply $changed $asUser
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.SudoRefused*'
        $message = $run.Errors[0].Message
        $message | Should -BeLike '*No forwards were applied: the router keeps the forwards it had. Nothing of -Persist is on it (read back after the failure).'
        $message | Should -Not -Match 'Undoing'
        ([regex]::Matches($message, 'refused sudo -n')).Count | Should -Be 1
        Get-LabNatTable $Lab | Should -Be $before
        Invoke-LabRouter $Lab 'ls /etc/bypassnat 2>/dev/null | wc -l' | Should -Be '0'

        # An earlier -Persist (as root): its saved set is read back and found unchanged.
        (Invoke-Apply $Csv @{ Persist = $true }).Errors | Should -BeNullOrEmpty
        $saved = Invoke-LabRouter $Lab 'cat /etc/bypassnat/ruleset.*'
        $run = Invoke-Apply $changed $asUser
        $run.Errors[0].Message | Should -BeLike '*the router keeps the forwards it had. Its saved set still holds those forwards (read back after the failure).'
        Invoke-LabRouter $Lab 'cat /etc/bypassnat/ruleset.*' | Should -Be $saved
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        (Invoke-Apply $Csv).Errors | Should -BeNullOrEmpty
    }

    It 'refuses a forward that would capture its own SSH port, and changes nothing' {
        $before = Get-LabNatTable $Lab
        $lockout = $Csv + "`nssh,Tcp,22,192.0.2.2,,192.0.2.20,80,"
        $run = Invoke-Apply $lockout
        $run.Output | Should -HaveCount 0
        $errorIds = @($run.Errors | ForEach-Object FullyQualifiedErrorId)
        @($errorIds -like 'BypassNat.SshPortCapture*') | Should -HaveCount 1
        ($run.Errors | Where-Object FullyQualifiedErrorId -like 'BypassNat.SshPortCapture*').Message | Should -BeLike '*-Force*'
        Get-LabNatTable $Lab | Should -Be $before
    }

    It 'costs one SSH command when nothing changes, and two for a change (read; write, clean-up and read-back)' {
        $run = Invoke-Apply $Csv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Changed | Should -BeFalse
        $run.Output[0].SshCommands | Should -Be 1

        $run = Invoke-Apply ($Csv -replace 'NAS web UI', 'NAS web UI moved')
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output[0].Modified) | Should -Be @('web')
        $run.Output[0].SshCommands | Should -Be 2
        (Invoke-Apply $Csv).Output[0].SshCommands | Should -Be 2
    }

    It 'forwards a range kept as it is, and reads it back whole' {
        $withRange = $Csv + "`nspan,TcpUdp,4990-5010,192.0.2.2,,192.0.2.20,,"
        $run = Invoke-Apply $withRange
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output[0].Added) | Should -Be @('span')
        Set-MainRouterForward $Lab -Forward (Get-Forwards $withRange)
        Assert-Answers udp 5000 'device udp 5000 '
        if ($Backend -eq 'Nftables') {
            # One interval element a protocol in each of the ranges map and the reflect and keep sets, none a port.
            $nat = Get-LabNatTable $Lab
            @($nat -split "`n" | Where-Object { $_ -like '*4990-5010 comment "bypassnat;name=span;*' }) | Should -HaveCount 6
            $nat | Should -Not -Match '\. 5000 comment "bypassnat;name=span;'
            $nat | Should -Match 'tcp \. 192\.0\.2\.2 \. 4990-5010 comment "bypassnat;name=span;ext=4990-5010" : 192\.0\.2\.20\b'
        }
        (Invoke-Apply $withRange).Output[0].Changed | Should -BeFalse
        (Invoke-Apply $Csv).Errors | Should -BeNullOrEmpty
        Set-MainRouterForward $Lab -Forward (Get-Forwards $Csv)
    }

    It 'clears the conntrack entries of the touched ports, and only those' {
        # Two UDP flows through the router: one to a forward the next change touches, one to a forward it leaves alone.
        Assert-Answers udp 9000 'device udp 9000 '
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9001 -SourcePort 40100 | Should -Match '^device udp 9001 '
        (Invoke-LabCommand $Lab byp 'conntrack -L -p udp --orig-dst 192.0.2.2 --orig-port-dst 9000') -join "`n" | Should -Match 'dport=9000'

        $run = Invoke-Apply ($Csv -replace '(?m)^game,Udp,9000,192.0.2.2,,192.0.2.20,,', 'game,Udp,9000,192.0.2.2,,192.0.2.20,,game server')
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output[0].Modified) | Should -Be @('game')
        $run.Output[0].ConntrackEntriesDeleted | Should -BeGreaterThan 0
        (Invoke-LabCommand $Lab byp 'conntrack -L -p udp --orig-dst 192.0.2.2 --orig-port-dst 9000') -join "`n" | Should -Not -Match 'dport=9000'
        (Invoke-LabCommand $Lab byp 'conntrack -L -p udp --orig-dst 192.0.2.2 --orig-port-dst 19001') -join "`n" | Should -Match 'sport=40100 dport=19001'
        (Invoke-Apply $Csv).Errors | Should -BeNullOrEmpty
    }

    It 'asks before removing forwards that are not in the input, and without anyone to ask changes nothing' {
        (Invoke-Apply $Csv).Errors | Should -BeNullOrEmpty
        $before = Get-LabNatTable $Lab
        # As a person runs it, with no default saying the input is the whole set; Invoke-AsAdmin runs
        # -NonInteractive, so there is no one to ask.
        $asPerson = {
            $PSDefaultParameterValues.Remove('Invoke-BypassForwardApply:RemoveUnlisted')
            $ssh = $Lab.Ssh
            $extra = $Params.Extra
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh @extra
        }
        $oneRow = ($Csv -split "`r?`n")[0..1] -join "`n"
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $oneRow; Extra = @{} } $asPerson
        $run.Output | Should -BeNullOrEmpty
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.RemovalNotConfirmed*'
        $run.Errors[0].Category | Should -Be 'InvalidOperation'
        $run.Errors[0].Target | Should -Be '192.0.2.2'
        $run.Errors[0].Message | Should -BeLike '*holds 2 forward(s) that are not in the input (game, voip)*Nothing was changed on 192.0.2.2*-RemoveUnlisted*'
        Get-LabNatTable $Lab | Should -Be $before

        # A disabled row names its forward: removing it asks nothing.
        $disabled = ($Csv -replace '(?m)^Name,(.*)$', 'Name,$1,Enabled' -replace '(?m)^(web|voip),(.*)$', '$1,$2,true' -replace '(?m)^game,(.*)$', 'game,$1,false')
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $disabled; Extra = @{} } $asPerson
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output[0].Removed) | Should -Be @('game')

        # -RemoveUnlisted: the one row is the whole set.
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $oneRow; Extra = @{ RemoveUnlisted = $true } } $asPerson
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output[0].Removed) | Should -Be @('voip')
        (Invoke-Apply $Csv).Errors | Should -BeNullOrEmpty
    }
}
