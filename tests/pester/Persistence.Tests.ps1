# -Persist: the forwards come back on their own after a flush and after a reboot.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@

    function Invoke-Apply($Lab, [string] $CsvText, [hashtable] $Extra = @{}) {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; Extra = $Extra } {
            $ssh = $Lab.Ssh; $extra = $Params.Extra
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh @extra
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0]
    }

    # What systemd would run: the ExecStart line of an installed unit, on the router.
    function Invoke-Unit($Lab, [string] $Unit) {
        $exec = (Invoke-LabRouter $Lab "grep '^ExecStart=' /etc/systemd/system/$Unit") -replace '^ExecStart=', ''
        Invoke-LabRouter $Lab $exec | Out-Null
    }

    function Wait-Answer($Lab, [int] $Port, [string] $Protocol = 'tcp', [int] $Seconds = 20) {
        $deadline = (Get-Date).AddSeconds($Seconds)
        do {
            $answer = Send-LabRequest $Lab -Protocol $Protocol -Address 203.0.113.1 -Port $Port -TimeoutSeconds 1
            if ($answer) { return $answer }
        } while ((Get-Date) -lt $deadline)
        $null
    }
}

Describe 'Forwards persisted with the <Backend> backend' -ForEach @(@{ Backend = 'Iptables' }, @{ Backend = 'Nftables' }) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -CommandOptions @{ Backend = $Backend } -Service 'tcp:80', 'udp:9000', 'tcp:443'
        Set-MainRouterForward $Lab -Forward ((@'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
admin,Tcp,8443,192.0.2.2,192.0.2.20,443
'@) | ConvertFrom-Csv | New-BypassForward)
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'installs the saved ruleset, the boot unit and the watch timer' {
        $result = Invoke-Apply $Lab $Csv @{ Persist = $true }
        $result.Persisted | Should -Be 'systemd'
        $files = Invoke-LabRouter $Lab 'ls /etc/bypassnat /etc/systemd/system/multi-user.target.wants /etc/systemd/system/timers.target.wants'
        $files | Should -Contain 'restore.sh'
        $files | Should -Contain $(if ($Backend -eq 'Nftables') { 'ruleset.nft' } else { 'ruleset.iptables' })
        $files | Should -Contain 'bypassnat.service'
        $files | Should -Contain 'bypassnat-watch.timer'
        Invoke-LabRouter $Lab 'ls /etc/bypassnat' | Where-Object { $_ -like '*bypassnat-new*' } | Should -BeNullOrEmpty
    }

    It 'puts the forwards back on its own after a flush' {
        # systemd's timer, as the lab has no systemd: the watch unit's command every second.
        $exec = (Invoke-LabRouter $Lab "grep '^ExecStart=' /etc/systemd/system/bypassnat-watch.service") -replace '^ExecStart=', ''
        $sshd = (Get-Content (Join-Path $Lab.Dir 'sshd.pid') -Raw).Trim()
        $loop = Join-Path $Lab.Dir 'watch-loop.sh'
        Set-Content $loop "while true; do $exec; sleep 1; done"
        $watcher = Start-Process nsenter -ArgumentList @('--target', $sshd, '--mount', '--net', '--', 'sh', $loop) -PassThru `
            -RedirectStandardOutput (Join-Path $Lab.Dir 'watch.out') -RedirectStandardError (Join-Path $Lab.Dir 'watch.err')
        try {
            Wait-Answer $Lab 8080 | Should -Match '^device tcp 80 '
            Invoke-LabCommand $Lab byp 'iptables -t nat -F' | Out-Null
            if ($Backend -eq 'Nftables') { Invoke-LabCommand $Lab byp 'nft delete table ip bypassnat' | Out-Null }
            Wait-Answer $Lab 8080 | Should -Match '^device tcp 80 '
            Wait-Answer $Lab 9000 udp | Should -Match '^device udp 9000 '
        } finally {
            Stop-Process -Id $watcher.Id -Force -ErrorAction Ignore
        }
    }

    It 'restores them at boot from the boot unit' {
        # A reboot empties the kernel's ruleset; the proxy sets its own up again.
        Invoke-LabCommand $Lab byp 'nft flush ruleset' | Out-Null
        Invoke-LabCommand $Lab byp 'iptables -t nat -N CLASH' | Out-Null
        Invoke-LabCommand $Lab byp 'iptables -t nat -A CLASH -d 192.0.2.0/24 -j RETURN' | Out-Null
        Invoke-LabCommand $Lab byp 'iptables -t nat -A CLASH -p tcp -j REDIRECT --to-ports 7892' | Out-Null
        Invoke-LabCommand $Lab byp 'iptables -t nat -A PREROUTING -p tcp -j CLASH' | Out-Null
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 1 | Should -BeNullOrEmpty

        Invoke-Unit $Lab bypassnat.service
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Match '^device udp 9000 '
    }

    It 'keeps the saved set current when later applies change the forwards' {
        $changed = $Csv + "`nadmin,Tcp,8443,192.0.2.2,192.0.2.20,443"
        $result = Invoke-Apply $Lab $changed
        $result.Persisted | Should -Be 'updated'
        Invoke-LabCommand $Lab byp 'nft flush ruleset' | Out-Null
        Invoke-Unit $Lab bypassnat.service
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8443 | Should -Match '^device tcp 443 '
    }

    It 'keeps the saved set current when a forward is removed, so nothing brings it back' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward admin @ssh -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab 'cat /etc/bypassnat/ruleset.*' | Where-Object { $_ -like '*name=admin;*' } | Should -BeNullOrEmpty
        Invoke-Unit $Lab bypassnat-watch.service
        Invoke-Unit $Lab bypassnat.service
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8443 -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
    }
}
