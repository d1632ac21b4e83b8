# New-BypassForward needs no router: it runs in this PowerShell, against the built module.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force

    function ConvertFrom-CsvText([string] $Text) { $Text.Trim() | ConvertFrom-Csv }

    # Runs New-BypassForward on CSV text and collects objects and errors, including the terminating one.
    function Invoke-NewForward([string] $Csv) {
        $records = [System.Collections.Generic.List[object]]::new()
        try {
            ConvertFrom-CsvText $Csv | New-BypassForward -ErrorAction Continue 2>&1 | ForEach-Object { $records.Add($_) }
        } catch {
            $records.Add($_)
        }
        [pscustomobject]@{
            Output = @($records | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
            Errors = @($records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        }
    }
}

Describe 'New-BypassForward' {
    It 'binds CSV rows by property name and fills in the defaults' {
        $csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,SourceNat,Comment,Enabled
web,tcp,8080,192.0.2.2,,192.0.2.20,80,,NAS,
game,UDP,27015,192.0.2.2,,192.0.2.21,,yes,,
range,TcpUdp,6000-6010,192.0.2.2,16000-16010,192.0.2.22,,,,false
'@
        $forwards = ConvertFrom-CsvText $csv | New-BypassForward
        $forwards | Should -HaveCount 3
        $forwards[0].PSObject.TypeNames[0] | Should -Be 'BypassNat.BypassForward'
        $forwards[0].Protocol | Should -Be 'Tcp'
        "$($forwards[0].BypassPort)" | Should -Be '8080'
        "$($forwards[0].InternalPort)" | Should -Be '80'
        $forwards[0].SourceNat | Should -BeFalse
        $forwards[0].Enabled | Should -BeTrue
        $forwards[0].Comment | Should -Be 'NAS'
        $forwards[1].Protocol | Should -Be 'Udp'
        "$($forwards[1].InternalPort)" | Should -Be '27015'
        $forwards[1].SourceNat | Should -BeTrue
        $forwards[2].Protocol | Should -Be 'TcpUdp'
        "$($forwards[2].InternalPort)" | Should -Be '16000-16010'
        $forwards[2].Enabled | Should -BeFalse
    }

    It 'takes plain parameters too' {
        $f = New-BypassForward -Name ssh-nas -ExternalPort 2222 -BypassAddress 192.0.2.2 -InternalAddress 192.0.2.20 -InternalPort 22 -SourceNat $true
        $f.Name | Should -Be 'ssh-nas'
        "$($f.BypassPort)" | Should -Be '2222'
        "$($f.InternalPort)" | Should -Be '22'
        $f.SourceNat | Should -BeTrue
    }

    It 'reports every bad row with its row number, field, value and reason, and passes nothing on' {
        $csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
good,Tcp,8080,192.0.2.2,192.0.2.20,80
badport,Tcp,70000,192.0.2.2,192.0.2.20,80
badaddr,Tcp,8081,192.0.2.2,192.0.2.300,80
badproto,Icmp,8082,192.0.2.2,192.0.2.20,80
badrange,Tcp,6000-6010,192.0.2.2,192.0.2.20,7000-7004
bad name!,Tcp,8083,192.0.2.2,192.0.2.20,80
'@
        $result = Invoke-NewForward $csv
        $result.Output | Should -HaveCount 0
        $messages = @($result.Errors | ForEach-Object { "$($_.Exception.Message)" })
        $messages | Should -Contain "Row 2: ExternalPort '70000' is not valid: a port must be between 1 and 65535."
        @($messages -match "^Row 3: InternalAddress '192.0.2.300'").Count | Should -Be 1
        @($messages -match "^Row 4: Protocol 'Icmp'.*Tcp, Udp or TcpUdp").Count | Should -Be 1
        @($messages -match "^Row 5: InternalPort '7000-7004'.*11 port").Count | Should -Be 1
        @($messages -match "^Row 6: Name 'bad name!'").Count | Should -Be 1
        @($messages -match '^Row 1').Count | Should -Be 0
        $ids = $result.Errors | ForEach-Object { $_.FullyQualifiedErrorId -replace ',.*$' }
        $ids | Should -Contain 'BypassNat.InvalidPort'
        $ids | Should -Contain 'BypassNat.InvalidAddress'
        $ids | Should -Contain 'BypassNat.PortRangeMismatch'
        $ids | Should -Contain 'BypassNat.InvalidForwardSet'
        ($result.Errors | Where-Object { $_.FullyQualifiedErrorId -like 'BypassNat.InvalidPort*' }).CategoryInfo.Category | Should -Be 'InvalidData'
        ($result.Errors | Where-Object { $_.FullyQualifiedErrorId -like 'BypassNat.InvalidForwardSet*' }).Exception.Message | Should -Match '^5 of 6 row'
    }

    It 'refuses duplicate names and two forwards on the same protocol and port of the bypass router' {
        $csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress
web,Tcp,8080,192.0.2.2,8080,192.0.2.20
WEB,Tcp,8081,192.0.2.2,8081,192.0.2.21
dns,TcpUdp,5300,192.0.2.2,5300,192.0.2.20
dns-udp,Udp,5301,192.0.2.2,5300,192.0.2.21
other,Udp,8080,192.0.2.2,8080,192.0.2.22
'@
        $result = Invoke-NewForward $csv
        $result.Output | Should -HaveCount 0
        $messages = @($result.Errors | ForEach-Object { "$($_.Exception.Message)" })
        @($messages -match "^Row 2: Name 'WEB'.*already used by row 1").Count | Should -Be 1
        @($messages -match "^Row 4: BypassPort '5300'.*UDP port 5300 on 192.0.2.2 is already forwarded by 'dns' \(row 3\)").Count | Should -Be 1
        # Same port, other protocol: no conflict.
        @($messages -match '^Row 5').Count | Should -Be 0
    }

    It 'reports a missing column on every row instead of dropping the rows' {
        $csv = @'
Name,ExternalPort,BypassAddress
a,8080,192.0.2.2
b,8081,192.0.2.2
'@
        $result = Invoke-NewForward $csv
        $result.Output | Should -HaveCount 0
        $messages = @($result.Errors | ForEach-Object { "$($_.Exception.Message)" })
        @($messages -match "^Row 1: InternalAddress ''").Count | Should -Be 1
        @($messages -match "^Row 2: InternalAddress ''").Count | Should -Be 1
    }

    It 'counts a record with no matching column at all' {
        $result = Invoke-NewForward "Foo,Bar`n1,2"
        $result.Output | Should -HaveCount 0
        @(($result.Errors | ForEach-Object { "$($_.Exception.Message)" }) -match "^Row 1: Name ''").Count | Should -Be 1
    }

    It 'round-trips through Export-Csv' {
        $csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,SourceNat,Comment
web,Tcp,8080,192.0.2.2,8080,192.0.2.20,80,true,"Web, with a comma"
range,TcpUdp,6000-6010,192.0.2.2,16000-16010,192.0.2.22,7000-7010,,
'@
        $first = ConvertFrom-CsvText $csv | New-BypassForward
        $again = $first | ConvertTo-Csv | ConvertFrom-Csv | New-BypassForward
        foreach ($i in 0..1) {
            foreach ($p in 'Name', 'Protocol', 'ExternalPort', 'BypassAddress', 'BypassPort', 'InternalAddress', 'InternalPort', 'SourceNat', 'Comment', 'Enabled') {
                "$($again[$i].$p)" | Should -Be "$($first[$i].$p)" -Because "$p of row $($i + 1)"
            }
        }
    }
}
