# What a user sees around the forwards, against the lab router: -Verbose and -Debug (never a
# secret), tab completion of names without a connection, -WhatIf of a full removal, the result's
# Duration, and Get-BypassForward | Export-Csv as a CSV to apply again.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat')
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,SourceNat,Comment,Enabled
web,Tcp,8080,192.0.2.2,8080,192.0.2.20,80,false,Web server,true
voip,TcpUdp,9001-9003,192.0.2.2,19001-19003,192.0.2.20,9001-9003,false,,true
game,Udp,9000,192.0.2.2,9000,192.0.2.20,9000,false,Game server,true
'@
    # Messages of the verbose (V:) and debug (D:) streams become output lines.
    $script:Streams = {
        process {
            if ($_ -is [System.Management.Automation.VerboseRecord]) { "V: $($_.Message)" }
            elseif ($_ -is [System.Management.Automation.DebugRecord]) { "D: $($_.Message)" }
            else { $_ }
        }
    }
}

AfterAll {
    Stop-BypassLab $script:Lab
}

Describe 'Verbose and debug output' {
    It 'shows -Debug without asking at every line, in a non-interactive session too' {
        # Invoke-AsAdmin runs pwsh -NonInteractive, where a question fails; -Debug alone used to turn
        # every verbose line into "Continue with this operation?".
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            Get-BypassForward @ssh -Debug 5>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.DebugRecord]) { "D: $($_.Message)" } else { "O: $($_.Name)" } }
        }
        $run.Errors | Should -BeNullOrEmpty
        $lines = @($run.Output)
        # The verbose lines come as debug lines, and each script whole, named by what it does.
        @($lines -like 'D: Connected to 192.0.2.2 as root with key *') | Should -HaveCount 1
        @($lines -match '^D: SSH 192\.0\.2\.2: reading the router: exit 0 in \d+\.\d\d s\.$') | Should -HaveCount 1
        @($lines -like "D: Script for 192.0.2.2 (reading the router):`n*") | Should -HaveCount 1
    }

    It 'gives each SSH step with its duration, shows the rendered ruleset under -Debug, and never the password' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv; Streams = "$Streams" } {
            $password = (Get-Content (Join-Path $Lab.Dir 'bnadmin_password') -Raw).Trim()
            $credential = [pscredential]::new('bnadmin', (ConvertTo-SecureString $password -AsPlainText -Force))
            $DebugPreference = 'Continue'
            $result = $Params.Csv | ConvertFrom-Csv | New-BypassForward |
                Invoke-BypassForwardApply -ComputerName 192.0.2.2 -Credential $credential -Sudo -KnownHostsFile $Lab.Ssh.KnownHostsFile -Verbose -Debug 4>&1 5>&1 |
                ForEach-Object ([scriptblock]::Create($Params.Streams))
            $result
            "PASSWORD=$password"
        }
        $run.Errors | Should -BeNullOrEmpty
        $lines = @($run.Output | Where-Object { $_ -is [string] })
        $password = ($lines -match '^PASSWORD=') -replace '^PASSWORD='
        $password | Should -Not -BeNullOrEmpty
        $steps = @($lines -match '^V: SSH 192\.0\.2\.2: .+: exit \d+ in \d+\.\d\d s\.$')
        # One line per SSH command the apply ran (a changing apply is two: the survey and the write).
        $steps.Count | Should -BeGreaterOrEqual 2
        # Named as a person would, never by the script's first shell line.
        @($steps -match '^V: SSH 192\.0\.2\.2: reading the router: exit 0 in ') | Should -HaveCount 1
        @($steps -match '^V: SSH 192\.0\.2\.2: writing 3 forward\(s\) and verifying \([^)]+\): exit 0 in ') | Should -HaveCount 1
        @($steps -match 'bypassnat_|\(\) \{') | Should -BeNullOrEmpty
        @($lines -match '^V: Connected to 192\.0\.2\.2 as bnadmin with password in \d+\.\d\d s; host key SHA256:').Count | Should -Be 1
        # The rendered nftables ruleset, as it travels to the router.
        $debug = $lines -match '^D: ' | Out-String
        $debug | Should -Match '(?s)table ip bypassnat.*tcp \. 192\.0\.2\.2 \. 8080 comment "bypassnat;name=web;ext=8080" : 192\.0\.2\.20 \. 80'
        $debug | Should -Match 'comment "bypassnat;name=web;note=Web%20server"'
        @($lines -notmatch '^PASSWORD=' | Where-Object { $_.Contains($password) }) | Should -BeNullOrEmpty
        $run.Console | Should -Not -Match ([regex]::Escape($password))

        # Duration is the whole call, so at least the time of the SSH steps it made.
        $result = $run.Output | Where-Object { $_.PSObject.TypeNames -contains 'Deserialized.BypassNat.Apply.ApplyResult' }
        $stepSeconds = ($steps | ForEach-Object { [double]([regex]::Match($_, 'in (\d+\.\d\d) s\.$').Groups[1].Value) } | Measure-Object -Sum).Sum
        ([timespan]$result.Duration).TotalSeconds | Should -BeGreaterOrEqual ($stepSeconds - 0.01 * $steps.Count)
        $steps.Count | Should -Be $result.SshCommands
    }
}

Describe 'Tab completion of -Name' {
    It 'offers the names this session read from the router, and nothing before any read (no connection of its own)' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $line = 'Get-BypassForward -ComputerName 192.0.2.2 -Name '
            'before=' + ((TabExpansion2 $line $line.Length).CompletionMatches.CompletionText -join ',')
            Get-BypassForward @ssh | Out-Null
            'after=' + ((TabExpansion2 $line $line.Length).CompletionMatches.CompletionText -join ',')
            $line = 'Remove-BypassForward -ComputerName 192.0.2.2 -Name w'
            'remove=' + ((TabExpansion2 $line $line.Length).CompletionMatches.CompletionText -join ',')
            $line = 'Test-BypassForward -ComputerName 192.0.2.99 -Name '
            'other=' + ((TabExpansion2 $line $line.Length).CompletionMatches.CompletionText -join ',')
            # A removal and an apply change what the router holds, and so what completion offers.
            $line = 'Get-BypassForward -ComputerName 192.0.2.2 -Name '
            Remove-BypassForward game @ssh -Confirm:$false
            'removed=' + ((TabExpansion2 $line $line.Length).CompletionMatches.CompletionText -join ',')
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh | Out-Null
            'applied=' + ((TabExpansion2 $line $line.Length).CompletionMatches.CompletionText -join ',')
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @('before=', 'after=game,voip,web', 'remove=web', 'other=', 'removed=voip,web', 'applied=game,voip,web')
    }
}

Describe 'Remove-BypassForward -All -WhatIf' {
    It 'lists every forward it would remove, and removes none' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All -WhatIf @ssh; @(Get-BypassForward @ssh).Count }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be 3
        foreach ($name in 'web', 'voip', 'game') { $run.Console | Should -Match "remove +$name " }
    }
}

Describe 'Get-BypassForward | Export-Csv' {
    It 'writes only the CSV columns, in port order, and applies again to the same set' {
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            $path = Join-Path $Lab.Dir 'backup.csv'
            Get-BypassForward @ssh | Export-Csv $path
            Get-Content $path
            Import-Csv $path | New-BypassForward | Test-BypassForward @ssh -Quiet
            Import-Csv $path | New-BypassForward | Invoke-BypassForwardApply @ssh | ForEach-Object Changed
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0] | Should -Be '"Name","Protocol","ExternalPort","BypassAddress","BypassPort","InternalAddress","InternalPort","SourceNat","Comment","Enabled","PublicAddress","AllowedSource","InternalIPv6","AllowedSourceIPv6"'
        @($run.Output[1..3] | ForEach-Object { ($_ -split ',')[0].Trim('"') }) | Should -Be @('web', 'game', 'voip')
        $run.Output[4] | Should -BeTrue
        $run.Output[5] | Should -BeFalse
    }

    It 'Test-BypassForward -Name compares only the named forwards' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $changed = $Params.Csv -replace 'Web server', 'Changed' -replace 'Game server', 'Changed too'
            $changed | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh -Name web | ForEach-Object { "$($_.Name) $($_.Kind)" }
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @('web Different')
    }
}

Describe 'A comment in Chinese' {
    It 'of 39 characters is applied and read back whole on <Backend>' -ForEach @(@{ Backend = 'Nftables' }, @{ Backend = 'Iptables' }) {
        $run = Invoke-AsAdmin $Lab -Params @{ Backend = $Backend } {
            $ssh = $Lab.Ssh
            $comment = '家里的NAS服务器：照片和文件同步，还有每天晚上的备份任务都在这里运行，谢谢！'
            New-BypassForward -Name nas -ExternalPort 5000 -BypassAddress 192.0.2.2 -InternalAddress 192.0.2.20 -Comment $comment |
                Invoke-BypassForwardApply @ssh -Backend $Params.Backend | Out-Null
            $read = Get-BypassForward nas @ssh -Backend $Params.Backend
            $read.Comment -eq $comment
            $comment.Length
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @($true, 39)
    }
}
