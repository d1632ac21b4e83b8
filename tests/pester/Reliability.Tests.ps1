# Faults injected on purpose against the real lab router: a kernel that refuses part of a ruleset, a
# tool that claims success and loads nothing, and an SSH connection cut while the write runs. Each
# checks what the router holds afterwards, live and saved, and that the error says so truthfully.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Faults = [System.Collections.Generic.List[string]]::new()

    $script:Before = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@
    $script:After = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
admin,Tcp,8443,192.0.2.2,192.0.2.20,443
'@

    . (Join-Path $PSScriptRoot 'RollbackLab.ps1')
}

Describe 'Faults injected on the router with the <Backend> backend' -ForEach @(@{ Backend = 'Iptables'; Tool = 'iptables-restore' }, @{ Backend = 'Nftables'; Tool = 'nft' }) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -CommandOptions @{ Backend = $Backend } -Service 'tcp:80', 'udp:9000', 'tcp:443'
        $run = Invoke-Apply $Lab $Before @{ Persist = $true }
        $run.Errors | Should -BeNullOrEmpty
    }
    AfterAll {
        if ($script:Lab) { Remove-LabRouterFault $script:Lab -Tool $Tool -ErrorAction Ignore }
        Stop-BypassLab $script:Lab
    }

    It 'keeps the previous forwards, live and saved, when the kernel refuses part of the new ruleset' {
        $nat = Get-LabNatTable $Lab
        $saved = Get-SavedRuleset $Lab
        # The real kernel gets the real ruleset plus one rule it must refuse, in the same transaction.
        Set-LabRouterFault $Lab -Tool $Tool -Fault RefusePart
        try {
            $run = Invoke-Apply $Lab $After @{ Persist = $true }
        } finally {
            Remove-LabRouterFault $Lab -Tool $Tool
        }
        $Faults.Add("$Backend`: kernel refused part of a ruleset")
        $run.Output | Should -BeNullOrEmpty
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.RouterCommandFailed'
        $run.Errors[0].Message | Should -Match 'keeps its previous forwards'
        # The router's own words reach the user.
        $run.Errors[0].Message | Should -Match 'bypassnat_no_such_chain'
        Get-LabNatTable $Lab | Should -Be $nat
        Get-SavedRuleset $Lab | Should -Be $saved -Because 'the saved set must be rolled back with the kernel, or a reboot brings back forwards that never applied'
        Get-RouterNames $Lab | Should -Be @('game', 'web')
    }

    It 'fails the apply when the router claims success but loads nothing, and says what it holds' {
        $nat = Get-LabNatTable $Lab
        Set-LabRouterFault $Lab -Tool $Tool -Fault LoadNothing
        try {
            $run = Invoke-Apply $Lab $After
        } finally {
            Remove-LabRouterFault $Lab -Tool $Tool
        }
        $Faults.Add("$Backend`: $Tool reported success and loaded nothing")
        $run.Output | Should -BeNullOrEmpty
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.VerificationFailed'
        $run.Errors[0].Message | Should -Match 'now holds 2 forward\(s\): (game, web|web, game)'
        $run.Errors[0].Message | Should -Match 'add +admin'
        Get-LabNatTable $Lab | Should -Be $nat
    }

    It 'leaves the old or the new set, never a mix, when the SSH connection is cut during the write; the next apply converges' {
        Set-LabRouterFault $Lab -Tool $Tool -Fault Slow
        try {
            $job = Start-ThreadJob -ArgumentList $Lab, $After, (Join-Path $PSScriptRoot '../lab/Lab.psm1') {
                param($Lab, $Csv, $LabModule)
                Import-Module $LabModule
                Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh }
            }
            # The write is under way (the slow tool has started): cut every SSH connection.
            $deadline = (Get-Date).AddSeconds(60)
            while (-not (Test-Path (Join-Path $Lab.Dir 'fault-started')) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
            Test-Path (Join-Path $Lab.Dir 'fault-started') | Should -BeTrue
            Stop-LabSshConnections $Lab
            $run = $job | Wait-Job -Timeout 120 | Receive-Job
            $job | Remove-Job -Force
            # Let the cut write finish or die on the router before looking.
            Start-Sleep -Seconds 6
        } finally {
            Remove-LabRouterFault $Lab -Tool $Tool
        }
        $Faults.Add("$Backend`: SSH connection cut while $Tool ran")
        $run.Output | Should -BeNullOrEmpty
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.ConnectionLost'
        $run.Errors[0].Message | Should -Match 'either its previous forwards or the new ones'
        $run.Errors[0].Message | Should -Match 'saved set on the router (already holds|is written first in the same command, so it may already hold) the new forwards'
        $names = Get-RouterNames $Lab
        ($names -join ',') | Should -BeIn @('game,web', 'admin,web')
        $again = Invoke-Apply $Lab $After
        $again.Errors | Should -BeNullOrEmpty
        Get-RouterNames $Lab | Should -Be @('admin', 'web')
        $drift = Invoke-AsAdmin $Lab -Params @{ Csv = $After } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh }
        $drift.Output | Should -BeNullOrEmpty
    }
}

AfterAll {
    if ($Faults.Count -and $env:BYPASSNAT_TEST_COUNTS) {
        Add-Content $env:BYPASSNAT_TEST_COUNTS "Pester: $($Faults.Count) faults injected on real routers ($($Faults -join '; '))"
    }
}
