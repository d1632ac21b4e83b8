# docs/examples/Update-BypassForwards.ps1, run as cron, a systemd timer or Task Scheduler runs it
# (pwsh -File, then the exit code), on the lab's admin workstation against two bypass routers.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -SecondBypassRouter -Service @('tcp:80', 'tcp:81', 'udp:9000')
    $script:Script = (Resolve-Path (Join-Path $PSScriptRoot '../../docs/examples/Update-BypassForwards.ps1')).Path
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,SourceNat
web,Tcp,8080,192.0.2.2,,192.0.2.20,80,false
game,Udp,9000,192.0.2.2,,192.0.2.20,,false
web2,Tcp,8081,192.0.2.3,,192.0.2.20,81,true
'@
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)

    # Runs the script as a scheduled job would: a fresh pwsh -File with arguments, stdout and exit code.
    function Invoke-Scheduled([string] $CsvText, [string] $Routers, [string[]] $Extra = @(), [string] $KnownHosts = $Lab.Ssh.KnownHostsFile) {
        $csvPath = Join-Path $Lab.Dir "forwards-$([guid]::NewGuid().ToString('N').Substring(0, 6)).csv"
        Set-Content $csvPath $CsvText
        $log = Join-Path $Lab.Dir 'update.log'
        $pwsh = Join-Path $PSHOME 'pwsh.dll'
        $out = & ip netns exec "$($Lab.Prefix)-adm" dotnet $pwsh -NoProfile -NonInteractive -File $Script -CsvPath $csvPath -ComputerName $Routers `
            -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile $KnownHosts -ConnectTimeout 5 -LogPath $log -ModulePath (Join-Path $Lab.ModulePath 'BypassNat.psd1') @Extra 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Lines = @($out | ForEach-Object { "$_" }); Log = @(Get-Content $log -ErrorAction Ignore) }
    }
    function Get-ForwardNames([string] $Node) {
        @([regex]::Matches((Get-LabNatTable $Lab -Node $Node), 'name=([\w.-]+);') | ForEach-Object { $_.Groups[1].Value } | Sort-Object -Unique)
    }
}

AfterAll {
    Stop-BypassLab $script:Lab
}

Describe 'Update-BypassForwards.ps1 as a scheduled job' {
    It 'applies the CSV to both routers, logs one line per router and exits 0' {
        $run = Invoke-Scheduled $Csv '192.0.2.2,192.0.2.3'
        $run.ExitCode | Should -Be 0 -Because ($run.Lines -join "`n")
        @($run.Lines -match '^\S+Z router=192\.0\.2\.2 role=bypass result=ok changed=True added=game,web removed=- modified=- duration=\d+\.\d\ds$') | Should -HaveCount 1
        @($run.Lines -match '^\S+Z router=192\.0\.2\.3 role=bypass result=ok changed=True added=web2 removed=- modified=- duration=') | Should -HaveCount 1
        $run.Lines | Should -HaveCount 2
        $run.Log | Should -Be $run.Lines
        Get-ForwardNames byp | Should -Be @('game', 'web')
        Get-ForwardNames byp2 | Should -Be @('web2')
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8081 | Should -Match '^device tcp 81 '
    }

    It 'puts back what a flush removed, and says changed=False when nothing was missing' {
        Invoke-LabCommand $Lab byp 'nft delete table ip bypassnat' | Out-Null
        $run = Invoke-Scheduled $Csv '192.0.2.2,192.0.2.3'
        $run.ExitCode | Should -Be 0
        @($run.Lines -match 'router=192\.0\.2\.2 role=bypass result=ok changed=True added=game,web ') | Should -HaveCount 1
        @($run.Lines -match 'router=192\.0\.2\.3 role=bypass result=ok changed=False added=- ') | Should -HaveCount 1
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Match '^device udp 9000 '
    }

    It 'applies nothing anywhere for a bad CSV row, names the row on every router''s line and exits non-zero' {
        $before = (Get-LabNatTable $Lab), (Get-LabNatTable $Lab -Node byp2)
        $bad = ($Csv -replace '(?m)^game,.*$', 'game,Udp,99999,192.0.2.2,,192.0.2.20,,false') + "`nnew,Tcp,8082,192.0.2.3,,192.0.2.20,82,true"
        $run = Invoke-Scheduled $bad '192.0.2.2,192.0.2.3'
        $run.ExitCode | Should -Not -Be 0
        foreach ($router in '192\.0\.2\.2', '192\.0\.2\.3') {
            @($run.Lines -match "router=$router role=bypass result=not-applied error=BypassNat.InvalidForwardSet message=`"Row 2 \(CSV line 3\): ExternalPort '99999'") | Should -HaveCount 1
        }
        (Get-LabNatTable $Lab), (Get-LabNatTable $Lab -Node byp2) | Should -Be $before
    }

    It 'keeps the reachable router right when another is unreachable, and exits non-zero' {
        $changed = $Csv -replace '(?m)^game,.*\r?\n', ''
        $run = Invoke-Scheduled $changed '192.0.2.2,192.0.2.9'
        $run.ExitCode | Should -Be 1
        @($run.Lines -match 'router=192\.0\.2\.2 role=bypass result=ok changed=True added=- removed=game ') | Should -HaveCount 1
        @($run.Lines -match 'router=192\.0\.2\.9 role=bypass result=failed error=BypassNat.RouterUnreachable message=".*192\.0\.2\.9') | Should -HaveCount 1
        Get-ForwardNames byp | Should -Be @('web')
    }
    It 'applies the main router''s half too with -MainRouter, from the same CSV, and the double forward needs no hand-set rule' {
        # One known_hosts file for every router, as a user's ~/.ssh/known_hosts would be.
        $known = Join-Path $Lab.Dir 'all_known_hosts'
        Get-Content $Lab.Ssh.KnownHostsFile, $Lab.MainSsh.KnownHostsFile | Set-Content $known
        Invoke-LabCommand $Lab main 'iptables -t nat -F PREROUTING' | Out-Null
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 2 | Should -BeNullOrEmpty -Because 'the main router has no forward of its own now'

        $run = Invoke-Scheduled $Csv '192.0.2.2,192.0.2.3' -Extra @('-MainRouter', '192.0.2.1') -KnownHosts $known
        $run.ExitCode | Should -Be 0 -Because ($run.Lines -join "`n")
        @($run.Lines -match '^\S+Z router=192\.0\.2\.1 role=main result=ok changed=True added=game,web,web2 removed=- modified=- duration=') | Should -HaveCount 1
        @($run.Lines -match 'role=bypass result=ok ') | Should -HaveCount 2
        Get-ForwardNames main | Should -Be @('game', 'web', 'web2')
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8081 | Should -Match '^device tcp 81 '
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Match '^device udp 9000 '

        $again = Invoke-Scheduled $Csv '192.0.2.2,192.0.2.3' -Extra @('-MainRouter', '192.0.2.1') -KnownHosts $known
        $again.ExitCode | Should -Be 0
        @($again.Lines -match 'router=192\.0\.2\.1 role=main result=ok changed=False') | Should -HaveCount 1
    }

    It 'names at most ten forwards and counts the rest, for many added forwards and for many bad rows' {
        $many = "Name,Protocol,ExternalPort,BypassAddress,InternalAddress`n" + ((1..25 | ForEach-Object { "m$_,Tcp,$(20000 + $_),192.0.2.2,192.0.2.20" }) -join "`n")
        $run = Invoke-Scheduled $many '192.0.2.2'
        $run.ExitCode | Should -Be 0 -Because ($run.Lines -join "`n")
        @($run.Lines -match 'router=192\.0\.2\.2 role=bypass result=ok changed=True added=m1,m10,m11,m12,m13,m14,m15,m16,m17,m18,\+15more removed=game,web modified=- ') | Should -HaveCount 1
        Get-ForwardNames byp | Should -HaveCount 25

        $bad = "Name,Protocol,ExternalPort,BypassAddress,InternalAddress`n" + ((1..25 | ForEach-Object { "b$_,Tcp,x$_,192.0.2.2,192.0.2.20" }) -join "`n")
        $run = Invoke-Scheduled $bad '192.0.2.2'
        $run.ExitCode | Should -Be 2
        $line = @($run.Lines -match 'router=192\.0\.2\.2 role=bypass result=not-applied error=BypassNat.InvalidForwardSet ')
        $line | Should -HaveCount 1
        $line[0] | Should -Match "message=`"Row 1 \(CSV line 2\): ExternalPort 'x1'.*; Row 3 \(CSV line 4\): ExternalPort 'x3'[^;]*; and 22 more problems`"$"
        Get-ForwardNames byp | Should -HaveCount 25
    }
}
