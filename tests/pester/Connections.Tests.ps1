# The connection guarantees against the lab's real sshd and kernel: Ctrl-C returns within seconds
# while the router is slow and leaves it on the old or the new set, a command that runs too long is
# abandoned with BypassNat.CommandTimeout, a login whose sudo wants a password is refused as
# BypassNat.SudoRefused with nothing changed, and a password reaches no stream, error or file.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Service 'tcp:80', 'udp:9000', 'tcp:443'
    $script:Faults = [System.Collections.Generic.List[string]]::new()
    $script:Old = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@
    $script:New = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
admin,Tcp,8443,192.0.2.2,192.0.2.20,443
'@

    function Invoke-Apply([string] $CsvText, [hashtable] $Extra = @{}) {
        Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; Extra = $Extra } {
            $ssh = $Lab.Ssh; $extra = $Params.Extra
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh @extra
        }
    }

    function Get-RouterNames {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Get-BypassForward @ssh | ForEach-Object Name }
        $run.Errors | Should -BeNullOrEmpty
        (@($run.Output | Sort-Object) -join ',')
    }

    # The next apply converges on the new set, waiting for the router-side lock the abandoned write may still hold.
    function Assert-Converges {
        $again = Invoke-Apply $New @{ LockTimeout = 120 }
        $again.Errors | Should -BeNullOrEmpty
        Get-RouterNames | Should -Be 'admin,web'
        $drift = Invoke-AsAdmin $Lab -Params @{ Csv = $New } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh }
        $drift.Errors | Should -BeNullOrEmpty
        $drift.Output | Should -BeNullOrEmpty
        (Invoke-Apply $Old).Errors | Should -BeNullOrEmpty
    }

    (Invoke-Apply $Old).Errors | Should -BeNullOrEmpty
}

AfterAll {
    if ($script:Lab) { Remove-LabRouterFault $script:Lab -Tool nft -ErrorAction Ignore }
    Stop-BypassLab $script:Lab
    if ($Faults.Count -and $env:BYPASSNAT_TEST_COUNTS) {
        New-Item -ItemType Directory -Force (Split-Path $env:BYPASSNAT_TEST_COUNTS) | Out-Null
        Add-Content $env:BYPASSNAT_TEST_COUNTS "Pester: $($Faults.Count) connection faults injected on a real router ($($Faults -join '; '))"
    }
}

Describe 'Logins the router refuses' {
    It 'reports a login whose sudo asks for a password as BypassNat.SudoRefused, and changes nothing' {
        # bnadmin may run the netfilter tools through sudo without a password, not mkdir or tee,
        # which -Persist needs: sudo -n refuses them instead of prompting.
        $nat = Get-LabNatTable $Lab
        $run = Invoke-Apply $New @{ UserName = 'bnadmin'; Sudo = $true; Persist = $true }
        $Faults.Add('sudo that asks for a password')
        $run.Output | Should -BeNullOrEmpty
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.SudoRefused*'
        $run.Errors[0].Category | Should -Be 'PermissionDenied'
        $run.Errors[0].Message | Should -Match 'No forwards were applied: the router keeps the forwards it had'
        $run.Errors[0].Message | Should -Not -Match '\bat [A-Z][\w.]+\('
        Get-LabNatTable $Lab | Should -Be $nat
        Invoke-LabRouter $Lab 'ls /etc/bypassnat 2>/dev/null; true' | Should -BeNullOrEmpty
    }

    It 'never lets a password reach an output stream, an error or a file, right or wrong' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $New } {
            # The password is read here, and never written anywhere this test's runner keeps.
            $password = (Get-Content (Join-Path $Lab.Dir 'bnadmin_password') -Raw).Trim()
            $wrong = 'wrong-' + $password
            $DebugPreference = 'Continue'; $VerbosePreference = 'Continue'
            $lines = [System.Collections.Generic.List[string]]::new()
            $ids = [System.Collections.Generic.List[string]]::new()
            foreach ($secret in $password, $wrong) {
                $credential = [pscredential]::new('bnadmin', (ConvertTo-SecureString $secret -AsPlainText -Force))
                $Params.Csv | ConvertFrom-Csv | New-BypassForward |
                    Invoke-BypassForwardApply -ComputerName 192.0.2.2 -Credential $credential -Sudo -KnownHostsFile $Lab.Ssh.KnownHostsFile -Verbose -Debug -WhatIf *>&1 |
                    ForEach-Object {
                        if ($_ -is [System.Management.Automation.ErrorRecord]) { $ids.Add($_.FullyQualifiedErrorId); $lines.Add(($_ | Out-String)); $lines.Add("$($_.Exception)") }
                        else { $lines.Add(($_ | Out-String)) }
                    }
            }
            "lines=$($lines.Count)"
            $ids | ForEach-Object { "id=$_" }
            "leaks=$(@($lines | Where-Object { $_.Contains($password) }).Count)"
        }
        $run.Errors | Should -BeNullOrEmpty
        [int](@($run.Output -match '^lines=')[0] -replace 'lines=') | Should -BeGreaterThan 5
        @($run.Output -match '^id=') | Should -HaveCount 1
        $run.Output -match '^id=' | Should -BeLike 'id=BypassNat.AuthenticationFailed*'
        $run.Output -match '^leaks=' | Should -Be 'leaks=0'
        $password = (Get-Content (Join-Path $Lab.Dir 'bnadmin_password') -Raw).Trim()
        $run.Console | Should -Not -Match ([regex]::Escape($password))
        # No file the workstation or the router keeps holds it (but the lab's own record of it).
        $files = & grep -rlF -- $password $Lab.Dir 2>$null | Where-Object { $_ -notmatch '/bnadmin_password$' -and $_ -notmatch '/etc(-main)?/shadow$' }
        $files | Should -BeNullOrEmpty
    }
}

Describe 'A router that does not answer in time' {
    BeforeEach {
        (Invoke-Apply $Old).Errors | Should -BeNullOrEmpty
        $script:Nat = Get-LabNatTable $Lab
        # The router's nft now takes 20 s to load a ruleset (only nft -f; reads answer at once).
        Set-LabRouterFault $Lab -Tool nft -Fault Slow -Seconds 20
    }
    AfterEach {
        Remove-LabRouterFault $Lab -Tool nft
    }

    It 'abandons a command that runs longer than -CommandTimeout with BypassNat.CommandTimeout, and says what the router may hold' {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $run = Invoke-Apply $New @{ CommandTimeout = 3 }
        $clock.Stop()
        $Faults.Add('nft 20 s slow, -CommandTimeout 3')
        $run.Output | Should -BeNullOrEmpty
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.CommandTimeout*'
        $run.Errors[0].Category | Should -Be 'ConnectionError'
        $run.Errors[0].Message | Should -Match 'did not finish within 3 s \(-CommandTimeout\)'
        $run.Errors[0].Message | Should -Match 'the router holds either its previous forwards or the new ones, never a mix'
        # Far less than the 20 s the router would have made it wait (starting PowerShell included).
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 15
        # The router ends the abandoned write on its own, in one kernel transaction: old set or new, never a mix.
        Get-RouterNames | Should -BeIn @('game,web', 'admin,web')
        Remove-LabRouterFault $Lab -Tool nft
        Assert-Converges
    }

    It 'returns within seconds on Ctrl-C (Stop) while the router is slow, leaving it on the old or the new set' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $New } {
            $ps = [powershell]::Create()
            $null = $ps.AddScript('param($ssh, $csv, $module) Import-Module $module; $csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -RemoveUnlisted').
                AddArgument($Lab.Ssh).AddArgument($Params.Csv).AddArgument((Join-Path $Lab.ModulePath 'BypassNat.psd1'))
            $async = $ps.BeginInvoke()
            $started = Join-Path $Lab.Dir 'fault-started'
            $deadline = (Get-Date).AddSeconds(60)
            while (-not (Test-Path $started) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 50 }
            "started=$(Test-Path $started)"
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Stop()
            "stopped=$($clock.Elapsed.TotalSeconds)"
            "state=$($ps.InvocationStateInfo.State)"
            "completed=$($async.IsCompleted)"
            $ps.Dispose()
        }
        $Faults.Add('Ctrl-C while nft was 20 s slow')
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Contain 'started=True'
        $run.Output | Should -Contain 'state=Stopped'
        $run.Output | Should -Contain 'completed=True'
        # A generous bound: the router would have held the command for 20 s.
        [double](@($run.Output -match '^stopped=')[0] -replace 'stopped=') | Should -BeLessThan 3
        # The write was cut before its kernel transaction: the router is exactly on the old set.
        Get-LabNatTable $Lab | Should -Be $Nat
        Get-RouterNames | Should -Be 'game,web'
        Remove-LabRouterFault $Lab -Tool nft
        Assert-Converges
    }
}

Describe 'A router that does not answer the connection' {
    BeforeAll {
        # SYNs to port 2222 vanish, as on a path whose firewall drops SSH: a connect waits its whole timeout.
        Invoke-LabCommand $Lab byp 'iptables -I INPUT -p tcp --dport 2222 -j DROP' | Out-Null
    }
    AfterAll {
        Invoke-LabCommand $Lab byp 'iptables -D INPUT -p tcp --dport 2222 -j DROP' | Out-Null
    }

    It 'returns within seconds on Ctrl-C (Stop) while still connecting, not after -ConnectTimeout' {
        $run = Invoke-AsAdmin $Lab {
            $ps = [powershell]::Create()
            $null = $ps.AddScript('param($ssh, $module) Import-Module $module; Get-BypassForward @ssh -Port 2222 -ConnectTimeout 60').
                AddArgument($Lab.Ssh).AddArgument((Join-Path $Lab.ModulePath 'BypassNat.psd1'))
            $async = $ps.BeginInvoke()
            # Long enough to import the module and be inside the connect (which would take 60 s).
            Start-Sleep -Seconds 3
            "running=$($ps.InvocationStateInfo.State)"
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Stop()
            "stopped=$($clock.Elapsed.TotalSeconds)"
            "state=$($ps.InvocationStateInfo.State)"
            $ps.Dispose()
        }
        $Faults.Add('Ctrl-C while connecting to a port whose SYNs are dropped')
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Contain 'running=Running'
        $run.Output | Should -Contain 'state=Stopped'
        [double](@($run.Output -match '^stopped=')[0] -replace 'stopped=') | Should -BeLessThan 3
    }
}
