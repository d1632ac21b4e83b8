# Writers that overlap on one real lab router: ten applies of ten different sets at once while the
# -Persist watcher runs, and an apply that finds the router-side lock held. Each apply completes or
# fails cleanly; the router ends on exactly one set, live and saved alike; a held lock changes nothing.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -CommandOptions @{ Backend = 'Nftables' }

    # Ten sets that differ in names, ports and size: set i holds i+1 forwards.
    $script:Sets = foreach ($i in 0..9) {
        $rows = foreach ($j in 0..$i) { "s$i-f$j,Tcp,$(20000 + 100 * $i + $j),192.0.2.2,192.0.2.20,$(8000 + $j)" }
        (@('Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort') + $rows) -join "`n"
    }

    function Get-RouterForwards($Lab) {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Get-BypassForward @ssh | ForEach-Object { "$($_.Name) $($_.Protocol) $($_.ExternalPort) $($_.BypassAddress) $($_.InternalAddress) $($_.InternalPort)" } }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output | Sort-Object)
    }

    function Get-SetForwards([string] $CsvText) {
        @($CsvText | ConvertFrom-Csv | ForEach-Object { "$($_.Name) $($_.Protocol) $($_.ExternalPort) $($_.BypassAddress) $($_.InternalAddress) $($_.InternalPort)" } | Sort-Object)
    }

    # The forwards the saved set brings back: the live table is dropped and restore.sh (what boot and
    # the watcher run) loads the saved file, which the core's reader then reads like any forwards.
    function Get-SavedForwards($Lab) {
        Invoke-LabRouter $Lab 'nft delete table ip bypassnat && sh /etc/bypassnat/restore.sh --if-missing' | Out-Null
        Get-RouterForwards $Lab
    }

    $script:WatcherPid = $null
    $script:HolderPid = $null
}

AfterAll {
    foreach ($p in @($script:WatcherPid, $script:HolderPid)) {
        if ($p) { Invoke-LabRouter $Lab "kill $p 2>/dev/null; true" -ErrorAction Ignore | Out-Null }
    }
    Stop-BypassLab $script:Lab
}

Describe 'Writers that overlap on one router' {
    It 'ends ten concurrent applies of different sets, with the -Persist watcher running, on exactly one set, live and saved alike' {
        $first = Invoke-AsAdmin $Lab -Params @{ Csv = $Sets[0] } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist }
        $first.Errors | Should -BeNullOrEmpty
        # The watcher as the timer runs it, every 0.2 s instead of every 15 s (bounded, and killed in AfterAll).
        $script:WatcherPid = (Invoke-LabRouter $Lab 'i=0; while [ $i -lt 1500 ]; do sh /etc/bypassnat/restore.sh --if-missing; sleep 0.2; i=$((i + 1)); done >/dev/null 2>&1 & echo $!' | Select-Object -Last 1).Trim()

        $run = Invoke-AsAdmin $Lab -Params @{ Sets = [string[]] $Sets; Module = "$($Lab.ModulePath)/BypassNat.psd1" } {
            $ssh = $Lab.Ssh; $sets = $Params.Sets; $module = $Params.Module
            # All ten runspaces are ready before any connects, so the applies really overlap.
            $start = (Get-Date).AddSeconds(4)
            0..9 | ForEach-Object -ThrottleLimit 10 -Parallel {
                Import-Module $using:module
                $index = $_; $ssh = $using:ssh; $csv = ($using:sets)[$index]
                while ((Get-Date) -lt $using:start) { Start-Sleep -Milliseconds 20 }
                $failures = [System.Collections.Generic.List[object]]::new()
                $results = @($csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -RemoveUnlisted -ErrorAction SilentlyContinue -ErrorVariable +failures)
                [pscustomobject]@{
                    Index = $index; Changed = @($results | Where-Object Changed).Count
                    Errors = @($failures | ForEach-Object { "$($_.FullyQualifiedErrorId): $($_.Exception.Message)" })
                }
            }
        }
        $run.Errors | Should -BeNullOrEmpty
        $outcomes = @($run.Output)
        $outcomes.Count | Should -Be 10
        foreach ($outcome in $outcomes) {
            foreach ($failure in @($outcome.Errors)) {
                $failure | Should -Match '^BypassNat\.(RouterBusy|RouterChanged),' -Because "apply $($outcome.Index) may only fail cleanly, never half-applied"
                $failure | Should -Match 'Nothing was changed'
            }
        }
        $succeeded = @($outcomes | Where-Object { @($_.Errors).Count -eq 0 })
        $failed = @($outcomes | Where-Object { @($_.Errors).Count -gt 0 })
        $summary = "10 applies of different sets at once with the watcher running: $($succeeded.Count) applied, $($failed.Count) failed cleanly ($(($failed | ForEach-Object { ($_.Errors[0] -split ',')[0] }) -join ', '))"
        Write-Host "Concurrency: $summary"
        if ($env:BYPASSNAT_TEST_COUNTS) { Add-Content $env:BYPASSNAT_TEST_COUNTS "Pester: $summary; end state checked live and saved" }
        $succeeded.Count | Should -BeGreaterThan 0

        # Stop the watcher before looking, so what is read is what the writers left.
        Invoke-LabRouter $Lab "kill $WatcherPid" | Out-Null
        $script:WatcherPid = $null
        $live = Get-RouterForwards $Lab
        $matching = @(0..9 | Where-Object { ((Get-SetForwards $Sets[$_]) -join "`n") -eq ($live -join "`n") })
        $matching.Count | Should -Be 1 -Because "the router holds exactly one of the ten sets, not a mix: $($live -join '; ')"
        $matching[0] | Should -BeIn @($succeeded | ForEach-Object Index) -Because 'the set the router holds is one whose apply reported success'
        Get-SavedForwards $Lab | Should -Be $live -Because 'the saved set the router restores at boot equals the live one'
    }

    It 'fails an apply with BypassNat.RouterBusy naming the holder after the bounded wait, and changes nothing, while another writer holds the lock' {
        $nat = Get-LabNatTable $Lab
        $saved = Invoke-LabRouter $Lab 'cat /etc/bypassnat/ruleset.nft'
        $before = Get-RouterForwards $Lab
        # Another writer, as the router sees one: the lock held through a file descriptor, and its description beside it.
        $script:HolderPid = (Invoke-LabRouter $Lab @'
echo 'pid 4242 since now: the Concurrency test, holding the lock' > /run/bypassnat/holder
sh -c 'exec 9</run/bypassnat/lock; flock -w 20 9 || exit 1; exec sleep 300' >/dev/null 2>&1 &
echo $!
i=0; while flock -n /run/bypassnat/lock true && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
'@ | Select-Object -Last 1).Trim()
        Invoke-LabRouter $Lab 'flock -n /run/bypassnat/lock true && echo free || echo held' | Should -Be 'held'

        # A set the router cannot already hold (whichever set the first test left), so the apply must write.
        $other = "Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort`nbusy,Tcp,29999,192.0.2.2,192.0.2.20,80"
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $other } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -LockTimeout 2 }
        $run.Output | Should -BeNullOrEmpty
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.RouterBusy'
        $run.Errors[0].Message | Should -Match 'the Concurrency test, holding the lock'
        $run.Errors[0].Message | Should -Match 'Nothing was changed'
        Get-LabNatTable $Lab | Should -Be $nat
        Invoke-LabRouter $Lab 'cat /etc/bypassnat/ruleset.nft' | Should -Be $saved

        # The watcher skips at once while the lock is held: a flushed table stays flushed until it is free.
        Invoke-LabRouter $Lab 'nft delete table ip bypassnat && sh /etc/bypassnat/restore.sh --if-missing; nft list table ip bypassnat >/dev/null 2>&1 && echo restored || echo skipped' | Should -Be 'skipped'
        Invoke-LabRouter $Lab "kill $HolderPid" | Out-Null
        $script:HolderPid = $null
        Invoke-LabRouter $Lab 'i=0; until flock -n /run/bypassnat/lock true || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done; sh /etc/bypassnat/restore.sh --if-missing' | Out-Null
        Get-RouterForwards $Lab | Should -Be $before
    }
}
