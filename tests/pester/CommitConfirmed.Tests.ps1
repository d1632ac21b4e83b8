# Commit-confirmed applies (-ConfirmTimeout) against the real lab router: confirmed through a new SSH
# connection, and rolled back by the router's own watchdog when the change locks the admin out (new SSH
# connections dropped right after the write lands). Each checks the live rules, the saved set
# (-Persist), packets through the double NAT, and that no watchdog or saved rollback is left behind.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Faults = [System.Collections.Generic.List[string]]::new()

    # The change moves web from the device's port 80 to 443: a packet shows which forward it crossed.
    $script:Before = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@
    $script:After = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,443
admin,Tcp,8443,192.0.2.2,192.0.2.20,443
'@

    . (Join-Path $PSScriptRoot 'RollbackLab.ps1')

    # The watchdog's state on the router: its files (gone once confirmed or rolled back, but for the outcome) and its
    # processes, found by their command line among the processes of the router's own mount namespace
    # (the lab shares the machine's process table with other labs).
    function Get-WatchdogState($Lab, [ValidateSet('Bypass', 'Main')] [string] $Router = 'Bypass') {
        $sshd = (Get-Content (Join-Path $Lab.Dir $(if ($Router -eq 'Main') { 'main_sshd.pid' } else { 'sshd.pid' })) -Raw).Trim()
        $namespace = (Get-Item "/proc/$sshd/ns/mnt").LinkTarget
        $processes = foreach ($proc in Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$') {
            try {
                $line = [IO.File]::ReadAllText("$($proc.FullName)/cmdline") -replace "`0", ' '
                if ($line -match 'watchdog\.sh' -and (Get-Item "$($proc.FullName)/ns/mnt").LinkTarget -eq $namespace) { $line }
            } catch { }
        }
        [pscustomobject]@{
            Files     = (Invoke-LabRouter $Lab -Router $Router 'cd /run/bypassnat/confirm 2>/dev/null && ls | grep -v "\.result$\|\.log$"; true') -join ' '
            Processes = @($processes)
        }
    }
}

# Every backend: the rollback, live and saved, and the confirmation. The main router's hop, the cut
# connection and the move between backends each run once, on one backend (the watchdog is the same;
# the rules the rollback renders are covered for both backends by the first test), to keep this
# file's lab time short.
Describe 'Commit-confirmed apply with the <Backend> backend' -ForEach @(
    @{ Backend = 'Iptables'; Tool = 'iptables-restore'; Also = 'Main' }
    @{ Backend = 'Nftables'; Tool = 'nft'; Also = 'CutAndMove' }
) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -CommandOptions @{ Backend = $Backend } -Service 'tcp:80', 'udp:9000', 'tcp:443'
        Set-MainRouterForward $Lab -Forward ($Before | ConvertFrom-Csv | New-BypassForward)
        # Both hops start from the first set (the main router's for its own test below).
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Before } {
            $ssh = $Lab.Ssh; $main = $Lab.MainSsh
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $forwards | Invoke-BypassForwardApply @ssh -Persist
            $forwards | Invoke-BypassForwardApply @main
        }
        $run.Errors | Should -BeNullOrEmpty
    }
    AfterAll {
        if ($script:Lab) {
            Remove-LabRouterFault $script:Lab -Tool $Tool -ErrorAction Ignore
            Remove-LabRouterFault $script:Lab -Tool $Tool -Router Main -ErrorAction Ignore
        }
        Stop-BypassLab $script:Lab
    }

    It 'shows the watchdog under -WhatIf, changes nothing, and refuses a timeout out of range' {
        $nat = Get-LabNatTable $Lab
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $After } {
            $ssh = $Lab.Ssh
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $forwards | Invoke-BypassForwardApply @ssh -ConfirmTimeout 30 -WhatIf
            $forwards | Invoke-BypassForwardApply @ssh -ConfirmTimeout 2
        }
        $run.Console | Should -Match 'confirm +start a watchdog on the router first that restores the previous forwards after 30 s'
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^ParameterArgumentValidationError,'
        $run.Errors[0].Message | Should -Match 'ConfirmTimeout'
        Get-LabNatTable $Lab | Should -Be $nat
    }

    It 'is rolled back by the router itself when new SSH connections fail after the write, live and saved, and says so' {
        $nat = Get-LabNatTable $Lab
        $saved = Get-SavedRuleset $Lab
        Set-LabRouterFault $Lab -Tool $Tool -Fault BlockNewSsh
        try {
            $run = Invoke-Apply $Lab $After @{ Persist = $true; ConfirmTimeout = 5; ConnectTimeout = 2 }
            $blocked = Test-Path (Join-Path $Lab.Dir 'fault-fired')
        } finally {
            Remove-LabRouterFault $Lab -Tool $Tool
        }
        $Faults.Add("$Backend`: new SSH connections dropped right after the write")
        $blocked | Should -BeTrue -Because 'the block must have been in place when the cmdlet tried to confirm'
        $run.Output | Should -BeNullOrEmpty
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.RolledBack'
        $run.Errors[0].Category | Should -Be 'ConnectionError'
        $run.Errors[0].Message | Should -Match 'rolled back: a new SSH connection could not confirm it'
        $run.Errors[0].Message | Should -Match 'restored its previous 2 forwards \(game, web\) by itself'
        $run.Errors[0].Message | Should -Match 'the router holds 2 forward\(s\): game, web, exactly its previous forwards'

        Get-LabNatTable $Lab | Should -Be $nat
        Get-SavedRuleset $Lab | Should -Be $saved -Because 'the saved set rolls back with the live rules, or a reboot brings back the unconfirmed change'
        Get-RouterNames $Lab | Should -Be @('game', 'web')
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 ' -Because 'the packet crosses the old forward, not the new one'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Match '^device udp 9000 '
        $state = Get-WatchdogState $Lab
        $state.Files | Should -BeNullOrEmpty
        $state.Processes | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab 'ls /etc/bypassnat' | Should -Not -Contain 'confirm-pending.sh'
    }

    if ($Also -eq 'CutAndMove') {
        It 'puts the previous forwards back by itself, live and saved, when the SSH connection is cut during the write' {
            $nat = Get-LabNatTable $Lab
            $saved = Get-SavedRuleset $Lab
            Invoke-LabRouter $Lab 'rm -f /run/bypassnat/confirm/bypassnat.result' | Out-Null
            Set-LabRouterFault $Lab -Tool $Tool -Fault Slow
            try {
                $job = Start-ThreadJob -ArgumentList $Lab, $After, (Join-Path $PSScriptRoot '../lab/Lab.psm1') {
                    param($Lab, $Csv, $LabModule)
                    Import-Module $LabModule
                    Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist -ConfirmTimeout 5 }
                }
                # The watchdog has started and the slow load is under way: cut every SSH connection.
                $deadline = (Get-Date).AddSeconds(60)
                while (-not (Test-Path (Join-Path $Lab.Dir 'fault-started')) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
                Test-Path (Join-Path $Lab.Dir 'fault-started') | Should -BeTrue
                Stop-LabSshConnections $Lab
                $run = $job | Wait-Job -Timeout 120 | Receive-Job
                $job | Remove-Job -Force
                # The router decides alone now: wait for its watchdog's outcome.
                $deadline = (Get-Date).AddSeconds(60)
                while (-not (Invoke-LabRouter $Lab 'cat /run/bypassnat/confirm/bypassnat.result 2>/dev/null; true') -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 500 }
            } finally {
                Remove-LabRouterFault $Lab -Tool $Tool
            }
            $Faults.Add("$Backend`: SSH connection cut during a -ConfirmTimeout write")
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.ConnectionLost'
            $run.Errors[0].Message | Should -Match 'the router puts back its previous forwards by itself at about'
            (Invoke-LabRouter $Lab 'cat /run/bypassnat/confirm/bypassnat.result') -join '' | Should -Match '^[0-9a-f]{32} 0 '
            Get-LabNatTable $Lab | Should -Be $nat
            Get-SavedRuleset $Lab | Should -Be $saved
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
            (Get-WatchdogState $Lab).Processes | Should -BeNullOrEmpty
        }

        It 'rolls back an unconfirmed apply at boot when the router reboots before the deadline, live and saved' {
            $nat = Get-LabNatTable $Lab
            $saved = Get-SavedRuleset $Lab
            Set-LabRouterFault $Lab -Tool $Tool -Fault BlockNewSsh
            try {
                $job = Start-ThreadJob -ArgumentList $Lab, $After, (Join-Path $PSScriptRoot '../lab/Lab.psm1') {
                    param($Lab, $Csv, $LabModule)
                    Import-Module $LabModule
                    Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist -ConfirmTimeout 15 -ConnectTimeout 2 }
                }
                # The write has landed (the block fired with it) and the watchdog waits: the router reboots.
                $deadline = (Get-Date).AddSeconds(60)
                while (-not (Test-Path (Join-Path $Lab.Dir 'fault-fired')) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
                Test-Path (Join-Path $Lab.Dir 'fault-fired') | Should -BeTrue
                (Invoke-LabRouter $Lab 'head -n 1 /etc/bypassnat/confirm-pending.sh') -join '' | Should -Match '^# bypassnat-confirm-token=[0-9a-f]{32}$'
                # (Read on the router itself: the admin's new SSH connections are blocked.)
                (Invoke-LabRouter $Lab 'nft list table ip bypassnat') -join "`n" | Should -Match '8443' -Because 'the unconfirmed change is live until the reboot'
                # A reboot: the watchdog and /run/bypassnat are gone, and so are the kernel's rules; then the boot's restore.
                Invoke-LabRouter $Lab 'd=/run/bypassnat/confirm/bypassnat; kill $(cat $d.pid); rm -rf /run/bypassnat/confirm; nft delete table ip bypassnat' | Out-Null
                Invoke-LabRouter $Lab 'sh /etc/bypassnat/restore.sh' | Out-Null
                $run = $job | Wait-Job -Timeout 90 | Receive-Job
                $job | Remove-Job -Force
            } finally {
                Remove-LabRouterFault $Lab -Tool $Tool
            }
            $Faults.Add("$Backend`: the router rebooted inside a -ConfirmTimeout window")
            Get-LabNatTable $Lab | Should -Be $nat -Because 'the boot put back the forwards the unconfirmed apply replaced, not the unconfirmed ones'
            Get-SavedRuleset $Lab | Should -Be $saved -Because 'the next boot must not bring the unconfirmed change back either'
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
            Invoke-LabRouter $Lab 'ls /etc/bypassnat' | Should -Not -Contain 'confirm-pending.sh'
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.ConfirmFailed'
            $run.Errors[0].Message | Should -Match 'holds neither this apply''s watchdog nor its outcome \(was /run cleared, or the router restarted\?\)'
            $run.Errors[0].Message | Should -Match 'the router holds 2 forward\(s\): game, web, exactly its previous forwards'
        }

        It 'puts both backends back when an unconfirmed apply moved the forwards from iptables to nftables' {
            $moved = Invoke-AsAdmin $Lab -Params @{ Csv = $Before } {
                $ssh = $Lab.Ssh.Clone(); $ssh.Backend = 'Iptables'
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist
            }
            $moved.Errors | Should -BeNullOrEmpty
            $nat = Get-LabNatTable $Lab
            $nat | Should -Match ':BYPASSNAT_PREROUTING'
            $nat | Should -Not -Match 'table ip bypassnat'
            $saved = Get-SavedRuleset $Lab
            Set-LabRouterFault $Lab -Tool nft -Fault BlockNewSsh
            try {
                $run = Invoke-Apply $Lab $After @{ Persist = $true; ConfirmTimeout = 5; ConnectTimeout = 2 }
            } finally {
                Remove-LabRouterFault $Lab -Tool nft
            }
            $Faults.Add("$Backend`: new SSH connections dropped after a move from iptables")
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.RolledBack'
            $run.Errors[0].Message | Should -Match 'the router holds 2 forward\(s\): game, web, exactly its previous forwards'
            Get-LabNatTable $Lab | Should -Be $nat -Because 'the iptables chains come back and the new nftables table goes'
            Get-SavedRuleset $Lab | Should -Be $saved
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
        }
    }

    It 'keeps a change that a new SSH connection confirms, and leaves no watchdog behind' {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $run = Invoke-Apply $Lab $After @{ Persist = $true; ConfirmTimeout = 5 }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output.Count | Should -Be 1
        $run.Output[0].Changed | Should -BeTrue
        $state = Get-WatchdogState $Lab
        $state.Files | Should -BeNullOrEmpty
        $state.Processes | Should -BeNullOrEmpty
        # Past the timeout (counted from before the apply started) nothing rolls back: the confirmation cancelled it.
        $left = 7 - $clock.Elapsed.TotalSeconds
        if ($left -gt 0) { Start-Sleep -Milliseconds ([int]($left * 1000)) }
        Get-RouterNames $Lab | Should -Be @('admin', 'web')
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 443 '
        Get-SavedRuleset $Lab | Should -Match '443'
        # Nothing is left for a later restore to take for an unconfirmed change.
        Invoke-LabRouter $Lab 'ls /etc/bypassnat' | Should -Not -Contain 'confirm-pending.sh'
        Invoke-LabRouter $Lab 'sh /etc/bypassnat/restore.sh --if-missing' | Out-Null
        Get-RouterNames $Lab | Should -Be @('admin', 'web')
    }

    It 'refuses every other write of the hop while a watchdog waits, as its rollback would undo it, and changes nothing' {
        # A waiting watchdog as the router holds it: its token, and a live process as its pid.
        Invoke-LabRouter $Lab 'mkdir -p /run/bypassnat/confirm && d=/run/bypassnat/confirm/bypassnat && echo pending-token > $d.token && echo $(( $(date +%s) + 60 )) > $d.deadline && { setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $! > $d.pid; }' | Out-Null
        try {
            $nat = Get-LabNatTable $Lab
            $saved = Get-SavedRuleset $Lab
            $run = Invoke-Apply $Lab $Before
            $run.Output | Should -BeNullOrEmpty
            $run.Errors | Should -HaveCount 1
            $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.ConfirmPending*'
            $run.Errors[0].Message | Should -Match 'Nothing was changed'
            $removal = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
            $removal.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.ConfirmPending*'
            Get-LabNatTable $Lab | Should -Be $nat
            Get-SavedRuleset $Lab | Should -Be $saved
        } finally {
            Invoke-LabRouter $Lab 'd=/run/bypassnat/confirm/bypassnat; kill $(cat $d.pid) 2>/dev/null; rm -f $d.token $d.pid $d.deadline; true' | Out-Null
        }
        $Faults.Add('a watchdog waiting for its confirmation')
        (Invoke-Apply $Lab $After).Errors | Should -BeNullOrEmpty
    }

    if ($Also -eq 'Main') {
        It 'rolls back the main router (-Role Main) by itself when new SSH connections fail after the write, and keeps a confirmed change' {
            $nat = Get-LabNatTable $Lab -Node main
            Set-LabRouterFault $Lab -Tool $Tool -Fault BlockNewSsh -Router Main
            try {
                $run = Invoke-AsAdmin $Lab -Params @{ Csv = $After } {
                    $main = $Lab.MainSsh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main -ConfirmTimeout 5 -ConnectTimeout 2
                }
                $blocked = Test-Path (Join-Path $Lab.Dir 'fault-fired')
            } finally {
                Remove-LabRouterFault $Lab -Tool $Tool -Router Main
            }
            $Faults.Add("$Backend`: new SSH connections to the main router dropped right after the write")
            $blocked | Should -BeTrue
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.RolledBack'
            $run.Errors[0].Message | Should -Match 'restored its previous 2 forwards \(game, web\) by itself'
            $run.Errors[0].Message | Should -Match 'exactly its previous forwards'
            Get-LabNatTable $Lab -Node main | Should -Be $nat
            (Get-WatchdogState $Lab -Router Main).Processes | Should -BeNullOrEmpty

            $confirmed = Invoke-AsAdmin $Lab -Params @{ Csv = $After } {
                $main = $Lab.MainSsh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main -ConfirmTimeout 5
            }
            $confirmed.Errors | Should -BeNullOrEmpty
            $confirmed.Output[0].Changed | Should -BeTrue
            $state = Get-WatchdogState $Lab -Router Main
            $state.Files | Should -BeNullOrEmpty
            $state.Processes | Should -BeNullOrEmpty
            Get-LabNatTable $Lab -Node main | Should -Match '8443'
        }
    }
}

AfterAll {
    if ($Faults.Count -and $env:BYPASSNAT_TEST_COUNTS) {
        New-Item -ItemType Directory -Force (Split-Path $env:BYPASSNAT_TEST_COUNTS) | Out-Null
        Add-Content $env:BYPASSNAT_TEST_COUNTS "Pester: $($Faults.Count) faults injected on real routers ($($Faults -join '; '))"
    }
}
