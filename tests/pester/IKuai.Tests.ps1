# An iKuai main router driven through its web API (-Role Main -Backend IKuai), the bypass router over
# SSH as always: both halves of the double forward from one CSV. The main router's namespace runs
# tests/lab/ikuai_sim.py (3.x and 4.x), which checks requests as the API does, counts logins and write
# calls, and renders its mappings into that namespace's iptables, so packets really cross both hops.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    . (Join-Path $PSScriptRoot '../lab/IKuaiLab.ps1')
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,Comment
web,Tcp,8080,192.0.2.2,18080,192.0.2.20,80,网站 主页
game,Udp,9100,192.0.2.2,19100,192.0.2.20,9000,
range,TcpUdp,40000-40001,192.0.2.2,30000-30001,192.0.2.20,30000-30001,
'@
    # Builds $main, the splat for the iKuai router, inside an admin step (secrets become SecureStrings there).
    $script:Setup = @'
$k = $Params.IKuai
$main = @{ ComputerName = '192.0.2.1'; Role = 'Main'; Backend = 'IKuai'; Port = $k.Port; KnownHostsFile = $Lab.Ssh.KnownHostsFile }
if ($k.Version -eq 3) { $main.Credential = [pscredential]::new($k.User, (ConvertTo-SecureString $k.Password -AsPlainText -Force)) }
else { $main.ApiToken = ConvertTo-SecureString $k.Token -AsPlainText -Force }
if ($k.Https) { $main.CertificateFingerprint = $k.Fingerprint }
foreach ($extra in $Params.Extra.GetEnumerator()) { $main[$extra.Key] = $extra.Value }
'@
    function Invoke-IKuai($Lab, $Sim, [scriptblock] $Block, [hashtable] $Extra = @{}, [switch] $Https, [string] $CsvText = $Csv, [string] $Started, [int] $SimPid) {
        $run = Invoke-AsAdmin $Lab -Params @{ IKuai = (Get-IKuaiSplat $Sim -Https:$Https); Setup = $Setup; Extra = $Extra; Csv = $CsvText; Started = $Started; SimPid = $SimPid } $Block
        # The password and the token never reach any stream.
        $everything = ($run.Output | Out-String) + ($run.Errors | Out-String) + ($run.Warnings -join "`n") + $run.Console
        $everything | Should -Not -Match ([regex]::Escape($Sim.Password))
        $everything | Should -Not -Match ([regex]::Escape($Sim.Token))
        $run
    }
    $script:Seed3 = '[{"enabled":"yes","comment":"我的NAS","interface":"all","lan_addr":"192.0.2.20","protocol":"tcp","wan_port":"5000","lan_port":"80","src_addr":""}]'
    $script:Seed4 = '[{"enabled":"yes","comment":"my camera","interface":"all","lan_addr":"192.0.2.20","protocol":"tcp","wan_port":"5001","lan_port":"80","src_addr":"","tagname":"cam"}]'
}

Describe 'An iKuai main router through its web API' {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Service 'tcp:80', 'udp:9000', 'tcp:30000', 'tcp:30001', 'udp:30001'
        $script:Sims = @{ 3 = (Start-IKuaiSim $Lab 3 -Seed $Seed3); 4 = (Start-IKuaiSim $Lab 4 -Seed $Seed4) }
        # The bypass router's half, over SSH as always.
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $byp = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @byp }
        $run.Errors | Should -BeNullOrEmpty
    }
    AfterAll {
        if ($script:Sims) { $Sims.Values | ForEach-Object { Stop-IKuaiSim $_ } }
        Stop-BypassLab $script:Lab
    }

    It 'refuses what the iKuai backend cannot do, before any request' {
        $sim = $Sims[4]
        $calls = (Get-IKuaiSimStatus $sim).calls
        $run = Invoke-IKuai $Lab $sim {
            . ([scriptblock]::Create($Params.Setup))
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $bypass = $main.Clone(); $bypass.Remove('Role')
            $forwards | Invoke-BypassForwardApply @bypass
            $both = $main.Clone(); $both.Credential = [pscredential]::new('u', (ConvertTo-SecureString 'p' -AsPlainText -Force))
            $forwards | Invoke-BypassForwardApply @both
            Get-BypassForward @main -KeyFile /nonexistent
            $bad = $main.Clone(); $bad.CertificateFingerprint = 'SHA256:abc'
            Get-BypassForward @bad
        }
        @($run.Errors | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] }) | Should -Be @(
            'BypassNat.IKuaiNotForBypass', 'BypassNat.NoCredentials', 'BypassNat.ParameterNotIKuai', 'BypassNat.InvalidFingerprint')
        # -ConfirmTimeout needs a watchdog on the router: refused after the read, before any write.
        $run = Invoke-IKuai $Lab $sim {
            . ([scriptblock]::Create($Params.Setup))
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main -ConfirmTimeout 30
        }
        $run.Errors.FullyQualifiedErrorId | Should -BeLike 'BypassNat.ConfirmNotSupported,*'
        $status = Get-IKuaiSimStatus $sim
        $status.writes | Should -Be 0
        $status.calls - $calls | Should -BeLessOrEqual 1
    }

    Context 'iKuai <Version>.x' -ForEach @(@{ Version = 3 }, @{ Version = 4 }) {
        BeforeAll { $script:Sim = $Sims[$Version] }

        It 'refuses a certificate that is not the pinned one before the secret is sent' {
            $before = Get-IKuaiSimStatus $Sim
            $run = Invoke-IKuai $Lab $Sim -Https -Extra @{ CertificateFingerprint = 'sha256 Fingerprint=' + ((1..32 | ForEach-Object { 'AB' }) -join ':') } {
                . ([scriptblock]::Create($Params.Setup))
                Get-BypassForward @main
            }
            $run.Errors.FullyQualifiedErrorId | Should -Be 'BypassNat.CertificateMismatch,BypassNat.Commands.GetBypassForwardCommand'
            $run.Errors.Category | Should -Be 'SecurityError'
            $run.Errors.Message | Should -Match ([regex]::Escape($Sim.Fingerprint.Split('=')[1]))
            $after = Get-IKuaiSimStatus $Sim
            $after.calls | Should -Be $before.calls
            $after.login_attempts | Should -Be $before.login_attempts
        }

        It 'refuses a wrong password or token, naming the router and saying nothing changed' {
            $run = Invoke-IKuai $Lab $Sim {
                . ([scriptblock]::Create($Params.Setup))
                $main.Remove('Credential'); $main.Remove('ApiToken')
                if ($Params.IKuai.Version -eq 3) { $main.Credential = [pscredential]::new($Params.IKuai.User, (ConvertTo-SecureString 'not-the-password' -AsPlainText -Force)) }
                else { $main.ApiToken = ConvertTo-SecureString 'not-the-token' -AsPlainText -Force }
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
            }
            $id = if ($Version -eq 3) { 'BypassNat.AuthenticationFailed' } else { 'BypassNat.TokenRefused' }
            $run.Errors.FullyQualifiedErrorId | Should -Be "$id,BypassNat.Commands.InvokeBypassForwardApplyCommand"
            $run.Errors.Category | Should -Be 'AuthenticationError'
            $run.Errors.Target | Should -Be '192.0.2.1'
            $run.Errors.Message | Should -Match 'Nothing was changed|Nothing more was changed'
            (Get-IKuaiSimStatus $Sim).writes | Should -Be 0
        }

        It 'applies the main router''s half, leaving the user''s own mapping alone' {
            $run = Invoke-IKuai $Lab $Sim -Https {
                . ([scriptblock]::Create($Params.Setup))
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
            }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output | Should -HaveCount 1
            $result = $run.Output[0]
            $result.Backend | Should -Be 'IKuai'
            $result.Role | Should -Be 'Main'
            $result.Changed | Should -BeTrue
            @($result.Added) | Sort-Object | Should -Be @('game', 'range', 'web')
            $rows = (Get-IKuaiSimStatus $Sim).rows
            $rows | Should -HaveCount 4
            $users = $rows | Where-Object { $_.comment -notlike 'bypassnat;*' }
            $users.wan_port | Should -Be ($Version -eq 3 ? '5000' : '5001')
            ($rows | Where-Object comment -like '*name=web*').comment | Should -Be 'bypassnat;name=web;ext=8080;note=网站%20主页'
            ($rows | Where-Object comment -like '*name=range*').protocol | Should -Be 'tcp+udp'
        }

        It 'carries TCP, UDP and a port range from the internet through both NATs to the device' {
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
            Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9100 | Should -Be 'device udp 9000 peer 203.0.113.10'
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 40001 | Should -Be 'device tcp 30001 peer 203.0.113.10'
            Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 40001 | Should -Be 'device udp 30001 peer 203.0.113.10'
            # The user's own mapping is still rendered as the user set it (straight to the device: the
            # broken direct forward of a bypass network, which is the user's business).
            (Invoke-LabCommand $Lab main "iptables-save -t nat") -join "`n" | Should -Match "-A IKUAI_V$Version -p tcp -m tcp --dport $($Version -eq 3 ? 5000 : 5001) -j DNAT --to-destination 192\.0\.2\.20:80"
        }

        It 'makes no write call and says Changed False when nothing differs' {
            $writes = (Get-IKuaiSimStatus $Sim).writes
            $run = Invoke-IKuai $Lab $Sim -Https {
                . ([scriptblock]::Create($Params.Setup))
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
            }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output.Changed | Should -BeFalse
            (Get-IKuaiSimStatus $Sim).writes | Should -Be $writes
        }

        It 'reads its forwards back, and Test-BypassForward finds a mapping edited in the web UI' {
            $row = (Get-IKuaiSimStatus $Sim).rows | Where-Object comment -like '*name=web*'
            Send-IKuaiSimControl $Sim ('{"edit": {"id": ' + $row.id + ', "lan_port": "18081"}}')
            $run = Invoke-IKuai $Lab $Sim -Https {
                . ([scriptblock]::Create($Params.Setup))
                $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
                [pscustomobject]@{
                    Got = @(Get-BypassForward @main)
                    Drift = @($forwards | Test-BypassForward @main | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Kind = "$($_.Kind)"; Fields = @($_.Fields) } })
                    Quiet = $forwards | Test-BypassForward @main -Quiet
                }
            }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output.Got.Name | Sort-Object | Should -Be @('game', 'range', 'web')
            ($run.Output.Got | Where-Object Name -eq 'web').Comment | Should -Be '网站 主页'
            $run.Output.Drift | Should -HaveCount 1
            $run.Output.Drift.Name | Should -Be 'web'
            "$($run.Output.Drift.Kind)" | Should -Be 'Different'
            $run.Output.Drift.Fields | Should -Contain 'BypassPort'
            $run.Output.Quiet | Should -BeFalse
        }

        It 'repairs the drift with one write call' {
            $writes = (Get-IKuaiSimStatus $Sim).writes
            $run = Invoke-IKuai $Lab $Sim -Https {
                . ([scriptblock]::Create($Params.Setup))
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
            }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output.Modified | Should -Be 'web'
            (Get-IKuaiSimStatus $Sim).writes | Should -Be ($writes + 1)
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
        }

        It 'admits only AllowedSource through the mapping''s source field' {
            $header, $rows = $Csv -split "`n", 2
            foreach ($case in @{ Source = '198.51.100.0/24'; Answer = $null }, @{ Source = '203.0.113.10'; Answer = 'device tcp 80 peer 203.0.113.10' }) {
                $text = ($header.TrimEnd() + ',AllowedSource') + "`n" + (($rows -split "`n" | ForEach-Object { $_.TrimEnd() + ',' + ($_ -like 'web,*' ? $case.Source : '') }) -join "`n")
                $run = Invoke-IKuai $Lab $Sim -Https -CsvText $text {
                    . ([scriptblock]::Create($Params.Setup))
                    $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
                    Get-BypassForward @main -Name web | ForEach-Object { "allowed=$($_.AllowedSource)" }
                }
                $run.Errors | Should -BeNullOrEmpty
                $run.Output[0].Modified | Should -Be 'web'
                @($run.Output -match "^allowed=$([regex]::Escape($case.Source))(/32)?$") | Should -HaveCount 1
                $row = (Get-IKuaiSimStatus $Sim).rows | Where-Object comment -like '*name=web*'
                # 3.x keeps the sources as text, 4.x as {"custom": [...]}.
                ($Version -eq 3 ? $row.src_addr : $row.src_addr.custom) | Should -Match ([regex]::Escape(($case.Source -split '/')[0]))
                Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 2 | Should -Be $case.Answer
            }
            $run = Invoke-IKuai $Lab $Sim -Https -CsvText $Csv { . ([scriptblock]::Create($Params.Setup)); $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output[0].Modified | Should -Be 'web'
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
        }

        It 'refuses a forward on a port of the user''s own mapping while planning: under -WhatIf too, before any write' {
            $port = $Version -eq 3 ? 5000 : 5001
            $theirs = $Version -eq 3 ? '我的NAS' : 'my camera'
            $writes = (Get-IKuaiSimStatus $Sim).writes
            $text = $Csv + "`nnas,Tcp,$port,192.0.2.2,15000,192.0.2.20,5000,"
            foreach ($whatIf in $true, $false) {
                $run = Invoke-IKuai $Lab $Sim -Https -CsvText $text -Extra @{ WhatIf = $whatIf } {
                    . ([scriptblock]::Create($Params.Setup))
                    $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
                }
                $run.Output | Should -BeNullOrEmpty
                $run.Errors | Should -HaveCount 1
                $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.PortConflict,*'
                $run.Errors[0].Message | Should -Match "'nas' \(tcp port $port\)"
                $run.Errors[0].Message | Should -Match ([regex]::Escape($theirs))
                $run.Errors[0].Message | Should -Match 'Nothing was changed: the router holds its mappings as before'
                $run.Console | Should -Not -Match 'What if:'
            }
            (Get-IKuaiSimStatus $Sim).writes | Should -Be $writes
        }

        It 'keeps a mapping switched off: Get shows it, -WhatIf lists its removal, which an unlisted removal must confirm' {
            $off = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,Comment,Enabled
web,Tcp,8080,192.0.2.2,18080,192.0.2.20,80,网站 主页,true
range,TcpUdp,40000-40001,192.0.2.2,30000-30001,192.0.2.20,30000-30001,,true
off,Tcp,8090,192.0.2.2,18090,192.0.2.20,90,关掉的,false
'@
            # game goes, so the apply writes, and writes off as a mapping switched off.
            $run = Invoke-IKuai $Lab $Sim -Https -CsvText $off {
                . ([scriptblock]::Create($Params.Setup))
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
                Get-BypassForward @main | Select-Object Name, Enabled, Comment
            }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output[0].Removed | Should -Be 'game'
            $got = $run.Output | Select-Object -Skip 1
            $got.Name | Sort-Object | Should -Be @('off', 'range', 'web')
            ($got | Where-Object Name -eq 'off').Enabled | Should -BeFalse
            ($got | Where-Object Name -eq 'off').Comment | Should -Be '关掉的'
            ((Get-IKuaiSimStatus $Sim).rows | Where-Object comment -like '*name=off*').enabled | Should -Be 'no'

            # The whole CSV again (game back, off not named): -WhatIf lists off's removal; without
            # -RemoveUnlisted a session that cannot ask refuses it; with it, off goes.
            $writes = (Get-IKuaiSimStatus $Sim).writes
            $run = Invoke-IKuai $Lab $Sim -Https {
                . ([scriptblock]::Create($Params.Setup))
                $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
                $forwards | Invoke-BypassForwardApply @main -WhatIf
                $PSDefaultParameterValues.Remove('Invoke-BypassForwardApply:RemoveUnlisted')
                $forwards | Invoke-BypassForwardApply @main
            }
            $run.Console | Should -Match 'What if:'
            $run.Console | Should -Match 'remove +off'
            $run.Console | Should -Match 'add +game'
            $run.Errors | Should -HaveCount 1
            $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.RemovalNotConfirmed,*'
            $run.Errors[0].Message | Should -Match '\(off\)'
            (Get-IKuaiSimStatus $Sim).writes | Should -Be $writes
            $run = Invoke-IKuai $Lab $Sim -Https {
                . ([scriptblock]::Create($Params.Setup))
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main
            }
            $run.Errors | Should -BeNullOrEmpty
            $run.Output.Removed | Should -Be 'off'
            $run.Output.Added | Should -Be 'game'
            @((Get-IKuaiSimStatus $Sim).rows | Where-Object comment -like '*name=off*') | Should -HaveCount 0
        }

        It 'puts back what was there when Ctrl-C stops an apply half-way' {
            $before = @((Get-IKuaiSimStatus $Sim).rows | ForEach-Object { "$($_.comment) $($_.enabled) $($_.wan_port) $($_.lan_port)" } | Sort-Object)
            $started = Join-Path $Sim.Dir 'delay-started'
            Remove-Item $started -ErrorAction SilentlyContinue
            # Delete game, change web, add extra: the change of web is held 4 s, and Ctrl-C comes meanwhile.
            Send-IKuaiSimControl $Sim '{"delay_write": 2, "delay_seconds": 4}'
            $text = ($Csv -replace '(?m)^game,.*\r?\n', '' -replace '18080', '18081') + "`nextra,Tcp,8095,192.0.2.2,18095,192.0.2.20,95,"
            $run = Invoke-IKuai $Lab $Sim -Https -CsvText $text {
                . ([scriptblock]::Create($Params.Setup))
                $ps = [powershell]::Create()
                $null = $ps.AddScript('param($main, $csv, $module) Import-Module $module; $csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main -RemoveUnlisted').
                    AddArgument($main).AddArgument($Params.Csv).AddArgument((Join-Path $Lab.ModulePath 'BypassNat.psd1'))
                $async = $ps.BeginInvoke()
                $deadline = (Get-Date).AddSeconds(60)
                while (-not (Test-Path $Params.Started) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 50 }
                "started=$(Test-Path $Params.Started)"
                $ps.Stop()
                "state=$($ps.InvocationStateInfo.State)"
                "completed=$($async.IsCompleted)"
                $ps.Dispose()
            } -Extra @{} -Started $started
            $run.Errors | Should -BeNullOrEmpty
            $run.Output | Should -Contain 'started=True'
            $run.Output | Should -Contain 'state=Stopped'
            $run.Output | Should -Contain 'completed=True'
            # The router holds exactly its previous mappings (put back, not half of the new set).
            @((Get-IKuaiSimStatus $Sim).rows | ForEach-Object { "$($_.comment) $($_.enabled) $($_.wan_port) $($_.lan_port)" } | Sort-Object) | Should -Be $before
            Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9100 | Should -Be 'device udp 9000 peer 203.0.113.10'
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
        }

        It 'reuses one login in a session for Get, Test, apply and Remove, and the session shows no secret' {
            $before = Get-IKuaiSimStatus $Sim
            $run = Invoke-IKuai $Lab $Sim -Https -Extra @{} -Started (Join-Path $Sim.Dir 'status.json') -SimPid $Sim.Pid {
                . ([scriptblock]::Create($Params.Setup))
                $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
                $s = New-BypassSession @main -Verbose
                $s | Format-List * | Out-String
                $s | ConvertTo-Json -Depth 3
                "backend=$($s.Backend) port=$($s.Port) state=$($s.State)"
                "listed=$(@(Get-BypassSession | Where-Object Id -eq $s.Id).Count)"
                "got=$((Get-BypassForward -Session $s -Verbose | ForEach-Object Name | Sort-Object) -join ',')"
                "quiet=$($forwards | Test-BypassForward -Session $s -Quiet -Debug)"
                $forwards | Invoke-BypassForwardApply -Session $s
                if ($Params.IKuai.Version -eq 3) {
                    # The router forgets every session: the next call is answered Result 10014, and the session logs in again once.
                    & kill -USR1 $Params.SimPid
                    $deadline = (Get-Date).AddSeconds(5)
                    while ((Get-Content $Params.Started -Raw | ConvertFrom-Json).sessions -ne 0 -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 50 }
                }
                "again=$((Get-BypassForward -Session $s | ForEach-Object Name | Sort-Object) -join ',')"
                Remove-BypassForward -Session $s -Name range -Confirm:$false -PassThru | ForEach-Object { "removed=$($_.Name)" }
                Remove-BypassSession $s
                "closed=$($s.State) listed=$(@(Get-BypassSession | Where-Object Id -eq $s.Id).Count)"
                Get-BypassForward -Session $s
            }
            $run.Errors | Should -HaveCount 1
            $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.SessionClosed,*'
            $run.Output | Should -Contain "backend=IKuai port=$($Sim.HttpsPort) state=Opened"
            $run.Output | Should -Contain 'listed=1'
            $run.Output | Should -Contain 'got=game,range,web'
            $run.Output | Should -Contain 'quiet=True'
            ($run.Output | Where-Object { $_ -is [psobject] -and $_.PSObject.Properties['Changed'] }).Changed | Should -BeFalse
            $run.Output | Should -Contain 'again=game,range,web'
            $run.Output | Should -Contain 'removed=range'
            $run.Output | Should -Contain 'closed=Closed listed=0'
            $after = Get-IKuaiSimStatus $Sim
            if ($Version -eq 3) {
                # One login for the session, one more after the router forgot it.
                $after.logins | Should -Be ($before.logins + 2)
                $after.expired_answers | Should -Be ($before.expired_answers + 1)
            }
            @($after.rows | Where-Object comment -like '*name=range*') | Should -HaveCount 0
            # Put range back for the tests after this one.
            (Invoke-IKuai $Lab $Sim -Https { . ([scriptblock]::Create($Params.Setup)); $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @main }).Errors | Should -BeNullOrEmpty
        }

        # 3.x only: a session that expires, and plain HTTP.
        if ($Version -eq 3) {
            It 'logs in again once when the 3.x session expired (Result 10014)' {
                $before = Get-IKuaiSimStatus $Sim
                # The session expires after the first call (the read), so the first write is answered 10014.
                Send-IKuaiSimControl $Sim '{"expire_after": 2}'
                $run = Invoke-IKuai $Lab $Sim -Https {
                    . ([scriptblock]::Create($Params.Setup))
                    $Params.Csv | ConvertFrom-Csv | New-BypassForward | Where-Object Name -ne 'game' | Invoke-BypassForwardApply @main
                }
                $run.Errors | Should -BeNullOrEmpty
                $run.Output.Removed | Should -Be 'game'
                $after = Get-IKuaiSimStatus $Sim
                $after.logins | Should -Be ($before.logins + 2)
                $after.expired_answers | Should -Be ($before.expired_answers + 1)
                @($after.rows | Where-Object comment -like '*name=game*') | Should -HaveCount 0
            }

            It 'warns every time it talks plain HTTP (3.x), in a session too' {
                $run = Invoke-IKuai $Lab $Sim { . ([scriptblock]::Create($Params.Setup)); Get-BypassForward @main | Out-Null }
                $run.Errors | Should -BeNullOrEmpty
                $run.Warnings -join "`n" | Should -Match 'plain HTTP'
                $run = Invoke-IKuai $Lab $Sim {
                    . ([scriptblock]::Create($Params.Setup))
                    $s = New-BypassSession @main
                    Get-BypassForward -Session $s | Out-Null
                    Get-BypassForward -Session $s | Out-Null
                    Remove-BypassSession $s
                }
                $run.Errors | Should -BeNullOrEmpty
                @($run.Warnings -match 'plain HTTP \(http://192\.0\.2\.1:80\)') | Should -HaveCount 3
            }
        }

        It 'removes with -All only the mappings it made' {
            $run = Invoke-IKuai $Lab $Sim -Https {
                . ([scriptblock]::Create($Params.Setup))
                Remove-BypassForward @main -All -Confirm:$false -PassThru
            }
            $run.Errors | Should -BeNullOrEmpty
            $rows = @((Get-IKuaiSimStatus $Sim).rows)
            $rows | Should -HaveCount 1
            $rows[0].comment | Should -Not -BeLike 'bypassnat;*'
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 1 | Should -BeNullOrEmpty
        }
    }
}
