# Test-BypassForward reads the router and reports drift; it never changes anything.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat')
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@
    $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh }
    if ($run.Errors) { throw "Setting up the router failed: $($run.Errors.Message)" }

    function Test-Drift([string] $CsvText, [switch] $Quiet) {
        Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; Quiet = [bool]$Quiet } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh -Quiet:$Params.Quiet |
                ForEach-Object { if ($_ -is [bool]) { $_ } else { [pscustomobject]@{ Name = $_.Name; Kind = "$($_.Kind)"; Fields = @($_.Fields); Detail = $_.Detail } } }
        }
    }
}

AfterAll {
    Stop-BypassLab $script:Lab
}

Describe 'Test-BypassForward' {
    It 'finds no drift when the router holds the set' {
        $run = Test-Drift $Csv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 0
        (Test-Drift $Csv -Quiet).Output | Should -Be @($true)
    }

    It 'names what is missing, unexpected and different, with the field' {
        $before = Get-LabNatTable $Lab
        $desired = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.21,80
admin,Tcp,8443,192.0.2.2,192.0.2.20,443
'@
        $run = Test-Drift $desired
        $run.Errors | Should -BeNullOrEmpty
        $byName = @{}; $run.Output | ForEach-Object { $byName[$_.Name] = $_ }
        $byName['admin'].Kind | Should -Be 'Missing'
        $byName['game'].Kind | Should -Be 'Unexpected'
        $byName['web'].Kind | Should -Be 'Different'
        @($byName['web'].Fields) | Should -Be @('InternalAddress')
        $byName['web'].Detail | Should -Be 'InternalAddress: 192.0.2.20 -> 192.0.2.21'
        $byName['admin'].Detail | Should -Be 'in the input, not on the router'
        $byName['game'].Detail | Should -Be 'on the router, not in the input'
        (Test-Drift $desired -Quiet).Output | Should -Be @($false)
        Get-LabNatTable $Lab | Should -Be $before
    }

    It 'says what it compared with when no forwards were given, and its table shows the detail whole at 80 columns' {
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            $drift = @(Test-BypassForward @ssh)
            $drift | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Kind = "$($_.Kind)"; Detail = $_.Detail } }
            'TABLE=' + ($drift | Out-String -Width 80)
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Warnings | Should -HaveCount 1
        $run.Warnings[0] | Should -BeLike 'No forwards were piped in or given with -Forward, so 192.0.2.2 is compared with an empty set: every forward it holds is reported Unexpected.*Import-Csv forwards.csv | New-BypassForward | Test-BypassForward*'
        $drift = @($run.Output | Where-Object { $_ -isnot [string] })
        @($drift.Name | Sort-Object) | Should -Be @('game', 'web')
        $drift | ForEach-Object { $_.Kind | Should -Be 'Unexpected'; $_.Detail | Should -Be 'on the router; no forwards were given to compare with' }
        $table = (@($run.Output -like 'TABLE=*') -join '').Substring(6)
        $table -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 -Because $_ }
        ($table -replace '\s+', ' ') | Should -Match 'web Unexpected on the router; no forwards were given to compare with'
        $table | Should -Not -Match '…'

        # An empty set given on purpose is compared without a warning.
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Test-BypassForward @ssh -Forward @() -Quiet }
        $run.Warnings | Should -BeNullOrEmpty
        $run.Output | Should -Be @($false)
    }

    It 'reports every forward missing after the ruleset was flushed' {
        Invoke-LabCommand $Lab byp 'nft delete table ip bypassnat' | Out-Null
        $run = Test-Drift $Csv
        @($run.Output | Where-Object Kind -eq 'Missing').Name | Sort-Object | Should -Be @('game', 'web')
        (Test-Drift $Csv -Quiet).Output | Should -Be @($false)
    }
}
