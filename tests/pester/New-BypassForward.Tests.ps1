# New-BypassForward needs no router: it runs in this PowerShell, against the built module.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force

    function ConvertFrom-CsvText([string] $Text) { $Text.Trim() | ConvertFrom-Csv }

    # Runs New-BypassForward on CSV text and collects objects and errors, including the terminating one.
    function Invoke-NewForward([string] $Csv, [hashtable] $Parameters = @{}) {
        $records = [System.Collections.Generic.List[object]]::new()
        try {
            ConvertFrom-CsvText $Csv | New-BypassForward @Parameters -ErrorAction Continue 2>&1 | ForEach-Object { $records.Add($_) }
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

    It 'reads a piped record as PowerShell binds it by property name: any case, any type, arrays, other objects' {
        # A record piped alone is read by the cmdlet (its fast way); with a field on the command line
        # (here -Comment as a script block) PowerShell binds the rest. Both must make the same forwards.
        $withScript = [pscustomobject]@{ Name = 'scripted'; Protocol = 'Udp'; BypassAddress = '192.0.2.2'; InternalAddress = '192.0.2.23' } |
            Add-Member -MemberType ScriptProperty -Name ExternalPort -Value { 4000 + 2 } -PassThru
        $records = @(
            [pscustomobject]@{ name = 'typed'; PROTOCOL = 'tcp'; externalPort = 8080; BypassAddress = '192.0.2.2'; InternalAddress = [ipaddress]'192.0.2.20'
                InternalPort = [uint16]80; SourceNat = $true; AllowedSource = @('198.51.100.0/24', '203.0.113.7'); Unrelated = 'x' }
            ('Name,Protocol,ExternalPort,BypassAddress,InternalAddress,Comment,AllowedSource', 'csv,TcpUdp,6000-6010,192.0.2.2,192.0.2.21,NAS,198.51.100.9;203.0.113.0/28' | ConvertFrom-Csv)
            $withScript
        )
        $read = $records | New-BypassForward -WarningAction SilentlyContinue
        $bound = $records | New-BypassForward -Comment { $_.Comment } -WarningAction SilentlyContinue
        $again = $read | New-BypassForward

        $read | Should -HaveCount 3
        "$($read[0].ExternalPort) $($read[0].InternalAddress) $($read[0].InternalPort) $($read[0].SourceNat)" | Should -Be '8080 192.0.2.20 80 True'
        "$($read[0].AllowedSource)" | Should -Be '198.51.100.0/24 203.0.113.7/32'
        "$($read[1].Protocol) $($read[1].ExternalPort) $($read[1].Comment) $($read[1].AllowedSource)" | Should -Be 'TcpUdp 6000-6010 NAS 198.51.100.9/32 203.0.113.0/28'
        "$($read[2].Name) $($read[2].ExternalPort)" | Should -Be 'scripted 4002'
        foreach ($i in 0..2) {
            foreach ($p in 'Name', 'Protocol', 'ExternalPort', 'BypassAddress', 'BypassPort', 'InternalAddress', 'InternalPort', 'SourceNat', 'Comment', 'Enabled', 'PublicAddress', 'AllowedSource') {
                "$($bound[$i].$p)" | Should -Be "$($read[$i].$p)" -Because "$p of record $($i + 1), bound by PowerShell"
                "$($again[$i].$p)" | Should -Be "$($read[$i].$p)" -Because "$p of forward $($i + 1), piped back in"
            }
        }
    }

    It 'refuses a list where one value is expected, with the row and field, whether it reads the record or PowerShell binds it' {
        $record = [pscustomobject]@{ Name = 'web'; Protocol = @('Udp'); ExternalPort = 8080; BypassAddress = '192.0.2.2'; InternalAddress = '192.0.2.20'; Enabled = @($false, $true) }
        foreach ($parameters in @{}, @{ Comment = 'x' }) {
            $errors = @()
            try { $record | New-BypassForward @parameters -ErrorAction Continue -ErrorVariable +errors 2>$null | Should -BeNullOrEmpty } catch { $errors += $_ }
            $rowErrors = @($errors | Where-Object { $_.FullyQualifiedErrorId -like 'BypassNat.InvalidValue*' })
            $rowErrors | Should -HaveCount 2 -Because "with $($parameters.Keys) on the command line, a CSV-like record must not silently become a TCP, enabled forward"
            $rowErrors[0].Exception.Message | Should -Match "Row 1\b.*: Protocol 'Udp' is not valid: a list of 1 value\(s\) where one is expected"
            $rowErrors[1].Exception.Message | Should -Match "Row 1\b.*: Enabled 'False True' is not valid: a list of 2 value\(s\)"
            $rowErrors[0].TargetObject.Name | Should -Be 'web'
        }
    }

    It 'applies a field given on the command line to every piped row, and reports a bad row with its record either way' {
        $csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress
web,Tcp,8080,192.0.2.2,192.0.2.20
game,Udp,27015,192.0.2.2,192.0.2.21
'@
        $forwards = ConvertFrom-CsvText $csv | New-BypassForward -PublicAddress 203.0.113.5
        $forwards | Should -HaveCount 2
        $forwards.PublicAddress | ForEach-Object { "$_" | Should -Be '203.0.113.5' }

        foreach ($parameters in @{}, @{ PublicAddress = '203.0.113.5' }) {
            $result = Invoke-NewForward "Name,Protocol,ExternalPort,BypassAddress,InternalAddress`ngood,Tcp,8080,192.0.2.2,192.0.2.20`nbad,Tcp,8081,192.0.2.2,192.0.2.300" $parameters
            $result.Output | Should -BeNullOrEmpty
            $rowError = $result.Errors | Where-Object { $_.FullyQualifiedErrorId -like 'BypassNat.InvalidAddress*' } | Select-Object -First 1
            $rowError.TargetObject.Name | Should -Be 'bad' -Because "the record is the target, with $($parameters.Keys) on the command line"
            $rowError.Exception.Message | Should -Match "Row 2 \(CSV line 3\): InternalAddress '192.0.2.300'"
        }
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
        $messages | Should -Contain "Row 2 (CSV line 3): ExternalPort '70000' is not valid: a port must be between 1 and 65535."
        @($messages -match "^Row 3 \(CSV line 4\): InternalAddress '192.0.2.300'").Count | Should -Be 1
        @($messages -match "^Row 4 \(CSV line 5\): Protocol 'Icmp'.*Tcp, Udp or TcpUdp").Count | Should -Be 1
        @($messages -match "^Row 5 \(CSV line 6\): InternalPort '7000-7004'.*11 port").Count | Should -Be 1
        @($messages -match "^Row 6 \(CSV line 7\): Name 'bad name!'").Count | Should -Be 1
        @($messages -match '^Row 1 ').Count | Should -Be 0
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
        @($messages -match "^Row 2 \(CSV line 3\): Name 'WEB'.*already used by row 1").Count | Should -Be 1
        @($messages -match "^Row 4 \(CSV line 5\): BypassPort '5300'.*UDP port 5300 on 192.0.2.2 is already forwarded by 'dns' \(row 3\)").Count | Should -Be 1
        # Same port, other protocol: no conflict.
        @($messages -match '^Row 5 ').Count | Should -Be 0
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
        @($messages -match "^Row 1 \(CSV line 2\): InternalAddress ''").Count | Should -Be 1
        @($messages -match "^Row 2 \(CSV line 3\): InternalAddress ''").Count | Should -Be 1
    }

    It 'counts a record with no matching column at all' {
        $result = Invoke-NewForward "Foo,Bar`n1,2"
        $result.Output | Should -HaveCount 0
        @(($result.Errors | ForEach-Object { "$($_.Exception.Message)" }) -match "^Row 1 \(CSV line 2\): Name ''").Count | Should -Be 1
    }

    It 'names a misspelt column once, with the column it was meant to be, instead of a missing field on every row' {
        $csv = @'
Name,ExternalPort,BypassAddress,InternalAdress,InternalPort
web,8080,192.0.2.2,192.0.2.20,80
ssh,2222,192.0.2.2,192.0.2.20,22
'@
        $result = Invoke-NewForward $csv
        $result.Output | Should -HaveCount 0
        $column = @($result.Errors | Where-Object { $_.FullyQualifiedErrorId -like 'BypassNat.UnknownColumn*' })
        $column | Should -HaveCount 1
        $column[0].Exception.Message | Should -Be "Column 'InternalAdress' is not valid: there is no column 'InternalAdress'; did you mean 'InternalAddress'? Rename the column in the file's first line."
        @($result.Errors | Where-Object { "$($_.Exception.Message)" -match "^Row \d.*InternalAddress ''" }) | Should -HaveCount 0
    }

    It 'warns about a column that is like no BypassNat column, and reads the rows' {
        $warnings = $null
        $forwards = ConvertFrom-CsvText "Name,ExternalPort,BypassAddress,InternalAddress,Owner`nweb,8080,192.0.2.2,192.0.2.20,Ann" |
            New-BypassForward -WarningVariable warnings -WarningAction SilentlyContinue
        $forwards | Should -HaveCount 1
        "$warnings" | Should -Match "Column\(s\) 'Owner' are not BypassNat columns and were ignored"
    }

    It 'says to use Import-Csv -Delimiter for a ;-separated file' {
        $path = Join-Path ([IO.Path]::GetTempPath()) "bypassnat-$([guid]::NewGuid().ToString('N')).csv"
        Set-Content $path "Name;ExternalPort;BypassAddress;InternalAddress`nweb;8080;192.0.2.2;192.0.2.20`nssh;2222;192.0.2.2;192.0.2.20"
        try {
            $records = @(try { Import-Csv $path | New-BypassForward -ErrorAction Continue 2>&1 } catch { $_ })
        } finally { Remove-Item $path }
        $errors = @($records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        @($records | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }) | Should -HaveCount 0
        $errors | Should -HaveCount 2
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.WrongDelimiter*'
        $errors[0].Exception.Message | Should -Match "looks ';'-separated .*Import-Csv -Delimiter ';'"
        $errors[1].FullyQualifiedErrorId | Should -BeLike 'BypassNat.InvalidForwardSet*'
    }

    It 'refuses a GBK file read as UTF-8, naming the row and field and how to read it' {
        $path = Join-Path ([IO.Path]::GetTempPath()) "bypassnat-$([guid]::NewGuid().ToString('N')).csv"
        # As Excel on Chinese Windows saves it: the comment 名称NAS in GBK (code page 936).
        $gbk = [byte[]](0xC3, 0xFB, 0xB3, 0xC6)
        $header = [Text.Encoding]::ASCII.GetBytes("Name,ExternalPort,BypassAddress,InternalAddress,Comment`nweb,8080,192.0.2.2,192.0.2.20,ok`nnas,8081,192.0.2.2,192.0.2.20,")
        [IO.File]::WriteAllBytes($path, $header + $gbk + [Text.Encoding]::ASCII.GetBytes("NAS`n"))
        try {
            $records = @(try { Import-Csv $path | New-BypassForward -ErrorAction Continue 2>&1 } catch { $_ })
            $read = Import-Csv $path -Encoding 936 | New-BypassForward
        } finally { Remove-Item $path }
        @($records | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }) | Should -HaveCount 0
        $errors = @($records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.InvalidEncoding*'
        $errors[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $errors[0].Exception.Message | Should -BeLike "Row 2 (CSV line 3): Comment '*NAS' is not valid: it holds U+FFFD*Import-Csv -Encoding 936*CSV UTF-8*"
        $errors[-1].FullyQualifiedErrorId | Should -BeLike 'BypassNat.InvalidForwardSet*'
        # Read with its code page, the same file is fine.
        $read[1].Comment | Should -Be '名称NAS'
    }

    It 'reports a later row that repeats the name of a bad row' {
        $result = Invoke-NewForward "Name,ExternalPort,BypassAddress,InternalAddress`nweb,99999,192.0.2.2,192.0.2.20`nweb,8080,192.0.2.2,192.0.2.20"
        $messages = @($result.Errors | ForEach-Object { "$($_.Exception.Message)" })
        @($messages -match "^Row 1 \(CSV line 2\): ExternalPort '99999'").Count | Should -Be 1
        @($messages -match "^Row 2 \(CSV line 3\): Name 'web' is not valid: the name is already used by row 1").Count | Should -Be 1
        $result.Errors[-1].Exception.Message | Should -Match '^2 of 2 row'
    }

    It 'under <How>, one terminating error lists every bad row, and nothing reaches Invoke-BypassForwardApply' -ForEach @(
        @{ How = "`$ErrorActionPreference = 'Stop'"; Preference = 'Stop'; Parameters = @{} }
        @{ How = '-ErrorAction Stop'; Preference = 'Continue'; Parameters = @{ ErrorAction = 'Stop' } }
    ) {
        $csv = "Name,ExternalPort,BypassAddress,InternalAddress`ngood,8080,192.0.2.2,192.0.2.20`nbad1,70000,192.0.2.2,192.0.2.20`nbad2,8082,192.0.2.2,192.0.2.300"
        $box = @{}
        & {
            $ErrorActionPreference = $Preference
            try {
                ConvertFrom-CsvText $csv | New-BypassForward @Parameters |
                    Invoke-BypassForwardApply -ComputerName 192.0.2.99 -HostKeyFingerprint SHA256:none -KeyFile /nonexistent
            } catch { $box.Caught = $_ }
        }
        $caught = $box.Caught
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -BeLike 'BypassNat.InvalidForwardSet*'
        $caught.Exception.Message | Should -Match '^2 of 3 row'
        $caught.Exception.Message | Should -Match "Row 2 \(CSV line 3\): ExternalPort '70000'"
        $caught.Exception.Message | Should -Match "Row 3 \(CSV line 4\): InternalAddress '192.0.2.300'"
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

    It 'exports exactly the CSV columns, and its table fits 80 columns with nothing cut' {
        $forwards = Import-Csv (Join-Path $PSScriptRoot '../../docs/examples/forwards.csv') | New-BypassForward
        ($forwards | ConvertTo-Csv)[0] | Should -Be '"Name","Protocol","ExternalPort","BypassAddress","BypassPort","InternalAddress","InternalPort","SourceNat","Comment","Enabled","PublicAddress","AllowedSource","InternalIPv6","AllowedSourceIPv6"'
        $lines = ($forwards | Format-Table | Out-String -Width 80) -split "`n" | Where-Object { $_.Trim() }
        $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 -Because $_ }
        $lines[0] | Should -Match '^Name\s+Proto\s+External\s+Bypass\s+Internal\s+Notes'
        @($lines -match '^web +Tcp +8080 +192\.0\.2\.2:8080 +192\.0\.2\.20:80 +Web server') | Should -HaveCount 1
        ($lines -join ' ') -replace '\s+', ' ' | Should -Match 'Web server on t ?he NAS'
        # A range too wide for its column goes on to the next line of the cell, whole.
        @($lines -match '^voip +TcpUdp +9001-9003 +192\.0\.2\.2: +192\.0\.2\.20:') | Should -HaveCount 1
        @($lines -match '^ +19001-19003 +9001-9003') | Should -HaveCount 1
        $lines | Should -Not -Match '…'
    }

    It 'gives Get-BypassForwardPlan a table that fits 80 columns: whole step headers, AllowedSource and Comment' {
        $csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,Comment,AllowedSource
web,Tcp,8080,192.168.100.200,,192.168.100.201,80,Web server on the NAS,203.0.113.0/24 198.51.100.7
voip,TcpUdp,10000-10010,192.168.100.200,,192.168.100.201,,,
'@
        $text = ConvertFrom-CsvText $csv | New-BypassForward | Get-BypassForwardPlan -Role Main, Bypass | Out-String -Width 80
        $lines = $text -split "`n"
        $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 -Because $_ }
        $text | Should -Not -Match '…'
        @($lines -match '^ *Step: 1, main router: forward these WAN ports to the bypass router$') | Should -HaveCount 1
        @($lines -match '^ *Step: 2, bypass router 192\.168\.100\.200: forward these ports to the device$') | Should -HaveCount 1
        @($lines -match '^Name +Protocol +Port +Forward to +From +Comment$') | Should -HaveCount 2
        # Too wide for its cell, the address and port go on two lines, AllowedSource one entry a line, and the comment wraps.
        @($lines -match '^web +TCP +8080 +192\.168\.100\.200: +198\.51\.100\.7 +Web server') | Should -HaveCount 1
        @($lines -match '^ +8080 +203\.0\.113\.0/24') | Should -HaveCount 1
        ($text -replace '\s+', ' ') | Should -Match 'Web server .*on .*the NAS'
        @($lines -match '^voip +TCP\+UDP +10000-10010 +192\.168\.100\.200: +any') | Should -HaveCount 1
    }

    It 'shows a long comment, a wide range and AllowedSource whole at 80 columns, wrapped instead of cut' {
        $csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,Comment,AllowedSource
nas,Tcp,10000-10010,192.168.100.200,,192.168.100.201,,家庭NAS的网页管理界面，只给家人用,203.0.113.0/24 198.51.100.7
'@
        $text = ConvertFrom-CsvText $csv | New-BypassForward | Format-Table | Out-String -Width 80
        $text -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 -Because $_ }
        $text | Should -Not -Match '…'
        # Each value reads whole once the cell's lines are joined.
        $cells = ($text -split "`n" | Select-Object -Skip 3 | ForEach-Object { if ($_.Length -gt 65) { $_.Substring(65).TrimEnd() } }) -join ''
        $cells -replace '\s' | Should -Be 'from198.51.100.7203.0.113.0/24;家庭NAS的网页管理界面，只给家人用'
        $text | Should -Match '192\.168\.100\.200:'
        $text | Should -Match '192\.168\.100\.201:'
    }
}
