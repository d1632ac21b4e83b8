# Several routers at once, sessions, and logging in as ssh does, against two real bypass routers
# (byp at 192.0.2.2, byp2 at 192.0.2.3) in one lab.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -SecondBypassRouter -Service @('tcp:80', 'tcp:81', 'tcp:82')
    # web through byp; web2 through byp2, whose source NAT brings the device's reply back to byp2
    # (the device's gateway is byp).
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,SourceNat
web,Tcp,8080,192.0.2.2,,192.0.2.20,80,false
web2,Tcp,8081,192.0.2.3,,192.0.2.20,81,true
'@
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)

    function Invoke-FleetApply([string] $CsvText, [string[]] $Routers) {
        Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; Routers = $Routers } {
            $Params.Csv | ConvertFrom-Csv | New-BypassForward |
                Invoke-BypassForwardApply -ComputerName $Params.Routers -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile $Lab.Ssh.KnownHostsFile -ConnectTimeout 5
        }
    }
    function Get-ForwardNames([string] $Node) {
        @([regex]::Matches((Get-LabNatTable $Lab -Node $Node), 'name=([\w.-]+);') | ForEach-Object { $_.Groups[1].Value } | Sort-Object -Unique)
    }
    # SSH connections the admin workstation opened to a router since the last Clear-SshCount
    # (closed ones stay in conntrack in TIME_WAIT for two minutes).
    function Clear-SshCount([string] $Node, [string] $Address) {
        & ip netns exec "$($Lab.Prefix)-$Node" conntrack -D -p tcp --orig-dst $Address --orig-port-dst 22 2>$null | Out-Null
    }
    function Get-SshCount([string] $Node, [string] $Address) {
        @(& ip netns exec "$($Lab.Prefix)-$Node" conntrack -L -p tcp --orig-src 192.0.2.100 --orig-dst $Address --orig-port-dst 22 2>$null).Count
    }
}

AfterAll {
    Stop-BypassLab $script:Lab
}

Describe 'Several routers at once' {
    It 'applies to both routers in parallel: each gets the forwards for its own address, one result a router' {
        $run = Invoke-FleetApply $Csv '192.0.2.2', '192.0.2.3'
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 2
        $byRouter = @{}; $run.Output | ForEach-Object { $byRouter[$_.ComputerName] = $_ }
        @($byRouter['192.0.2.2'].Added) | Should -Be @('web')
        @($byRouter['192.0.2.3'].Added) | Should -Be @('web2')
        Get-ForwardNames byp | Should -Be @('web')
        Get-ForwardNames byp2 | Should -Be @('web2')
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 peer 203\.0\.113\.10'
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8081 | Should -Match '^device tcp 81 peer 192\.0\.2\.3'
    }

    It 'shows several routers'' results as one table, and their forwards router by router in the order given' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $keys = @{ KeyFile = $Lab.Ssh.KeyFile; KnownHostsFile = $Lab.Ssh.KnownHostsFile }
            $results = $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply -ComputerName 192.0.2.2, 192.0.2.3 @keys
            'APPLY=' + ($results | Out-String -Width 80)
            'GET=' + (Get-BypassForward -ComputerName 192.0.2.3, 192.0.2.2 @keys | Out-String -Width 80)
            # Routers answer in any order; the forwards come in the order the routers were given.
            foreach ($i in 1..3) { 'ORDER=' + ((Get-BypassForward -ComputerName 192.0.2.3, 192.0.2.2 @keys | ForEach-Object ComputerName) -join ',') }
        }
        $run.Errors | Should -BeNullOrEmpty
        $apply = (@($run.Output -like 'APPLY=*') -join '').Substring(6) -split "`n"
        $apply | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 -Because $_ }
        @($apply -match '^ComputerName +Role +Backend +Changed +What changed') | Should -HaveCount 1
        @($apply -match '^192\.0\.2\.2 +Bypass +\w+ +False +1 unchanged') | Should -HaveCount 1
        @($apply -match '^192\.0\.2\.3 +Bypass +\w+ +False +1 unchanged') | Should -HaveCount 1
        $get = (@($run.Output -like 'GET=*') -join '').Substring(4) -split "`n"
        $get | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 -Because $_ }
        $groups = @($get -match '^\s*Router: ' | ForEach-Object { $_.Trim() })
        $groups | Should -Be @('Router: 192.0.2.3', 'Router: 192.0.2.2')
        @($get -match '^web2 +Tcp +8081 +192\.0\.2\.3:8081 +192\.0\.2\.20:81 +source NAT') | Should -HaveCount 1
        @($run.Output -like 'ORDER=*') | Should -Be @('ORDER=192.0.2.3,192.0.2.2', 'ORDER=192.0.2.3,192.0.2.2', 'ORDER=192.0.2.3,192.0.2.2')
    }

    It 'refuses a forward that no router given has, names it, and changes nothing on either router' {
        $before = (Get-LabNatTable $Lab), (Get-LabNatTable $Lab -Node byp2)
        $stray = $Csv + "`nstray,Tcp,8082,192.0.2.4,,192.0.2.20,83,false`nextra,Tcp,8083,192.0.2.2,,192.0.2.20,82,false"
        $run = Invoke-FleetApply $stray '192.0.2.2', '192.0.2.3'
        $run.Output | Should -HaveCount 0
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.ForwardNotOwned*'
        $run.Errors[0].Message | Should -BeLike "*'stray' (row 3)*192.0.2.4*"
        $run.Errors[0].Message | Should -BeLike '*Nothing was changed on any router*'
        (Get-LabNatTable $Lab), (Get-LabNatTable $Lab -Node byp2) | Should -Be $before
    }

    It 'refuses, with one router, a forward for another router''s address' {
        $run = Invoke-FleetApply $Csv '192.0.2.2'
        # With one router the applier's placement check (h1's AddressNotOnRouter) is the one that refuses.
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.AddressNotOnRouter*'
        $run.Errors[0].Message | Should -BeLike "Row 2: BypassAddress '192.0.2.3' is not valid: forward 'web2' is for the bypass router at 192.0.2.3, but 192.0.2.2 has only *"
        Get-ForwardNames byp | Should -Be @('web')
    }

    It 'makes an unreachable router that router''s error, and still applies the reachable one' {
        $more = $Csv -replace '(?m)^web2,.*$', 'extra,Tcp,8083,192.0.2.2,,192.0.2.20,82,false'
        $run = Invoke-FleetApply $more '192.0.2.2', '192.0.2.9'
        $run.Output | Should -HaveCount 1
        $run.Output[0].ComputerName | Should -Be '192.0.2.2'
        @($run.Output[0].Added) | Should -Be @('extra')
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.RouterUnreachable*'
        $run.Errors[0].Target | Should -Be '192.0.2.9'
        Get-ForwardNames byp | Should -Be @('extra', 'web')
        (Invoke-FleetApply $Csv '192.0.2.2', '192.0.2.3').Errors | Should -BeNullOrEmpty
    }

    It 'takes routers piped in by property name, and Get-BypassForward says which router each forward is on' {
        $run = Invoke-AsAdmin $Lab {
            [pscustomobject]@{ ComputerName = '192.0.2.2' }, [pscustomobject]@{ ComputerName = '192.0.2.3' } |
                Get-BypassForward -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile $Lab.Ssh.KnownHostsFile |
                ForEach-Object { "$($_.ComputerName) $($_.Name)" }
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @('192.0.2.2 web', '192.0.2.3 web2')
    }

    It 'removes forwards piped in from Get-BypassForward on the router each came from' {
        $run = Invoke-AsAdmin $Lab {
            $keys = @{ KeyFile = $Lab.Ssh.KeyFile; KnownHostsFile = $Lab.Ssh.KnownHostsFile }
            Get-BypassForward -ComputerName 192.0.2.2, 192.0.2.3 @keys | Where-Object Name -eq 'web2' |
                Remove-BypassForward @keys -Confirm:$false -PassThru | ForEach-Object Name
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @('web2')
        Get-ForwardNames byp2 | Should -BeNullOrEmpty
        Get-ForwardNames byp | Should -Be @('web')
        (Invoke-FleetApply $Csv '192.0.2.2', '192.0.2.3').Errors | Should -BeNullOrEmpty
    }
}

Describe 'Sessions' {
    It 'reads, tests and applies over one SSH connection a router, then closes it' {
        Clear-SshCount byp 192.0.2.2; Clear-SshCount byp2 192.0.2.3
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $s = New-BypassSession -ComputerName 192.0.2.2, 192.0.2.3 -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile $Lab.Ssh.KnownHostsFile
            $forwards = $Params.Csv | ConvertFrom-Csv | New-BypassForward
            $got = @(Get-BypassForward -Session $s).Count
            $inSync = $forwards | Test-BypassForward -Session $s -Quiet
            $applied = @($forwards | Invoke-BypassForwardApply -Session $s)
            $listed = @(Get-BypassSession | Sort-Object ComputerName)
            $piped = @(Get-BypassSession | Get-BypassForward).Count
            [pscustomobject]@{
                Sessions = @($listed | ForEach-Object { "$($_.ComputerName):$($_.Port) $($_.UserName) $($_.HostKeyFingerprint) $($_.State)" })
                Got = $got; Piped = $piped; InSync = $inSync; Applied = $applied.Count; Changed = @($applied | Where-Object Changed).Count
            }
            $s | Remove-BypassSession
            @(Get-BypassSession).Count
            Get-BypassForward -Session $s
        }
        $summary = $run.Output[0]
        $summary.Sessions[0] | Should -Be "192.0.2.2:22 root $($Lab.Fingerprint) Opened"
        $summary.Sessions[1] | Should -BeLike '192.0.2.3:22 root SHA256:* Opened'
        $summary.Got | Should -Be 2
        $summary.Piped | Should -Be 2
        $summary.InSync | Should -BeTrue
        $summary.Applied | Should -Be 2
        $summary.Changed | Should -Be 0
        $run.Output[1] | Should -Be 0
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.SessionClosed*'
        Get-SshCount byp 192.0.2.2 | Should -Be 1
        Get-SshCount byp2 192.0.2.3 | Should -Be 1
    }

    It 'reopens a session whose connection died, and says so' {
        $run = Invoke-AsAdmin $Lab {
            $s = New-BypassSession -ComputerName 192.0.2.2 -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile $Lab.Ssh.KnownHostsFile
            # The router ends the connection: its per-connection sshd process goes away.
            $daemon = [int](Get-Content (Join-Path $Lab.Dir 'sshd.pid') -Raw)
            foreach ($child in @(& pgrep -P $daemon)) { Stop-Process -Id ([int]$child) -Force }
            Start-Sleep -Milliseconds 300
            $names = @(Get-BypassForward -Session $s -Verbose 4>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.VerboseRecord]) { "VERBOSE: $($_.Message)" } else { $_.Name } })
            $names
            "reopened=$($s.Reopened) state=$($s.State)"
            $s | Remove-BypassSession
        }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output -like 'VERBOSE: Session * to 192.0.2.2 had lost its connection*reopened it*') | Should -HaveCount 1
        $run.Output | Should -Contain 'web'
        $run.Output | Should -Contain 'reopened=1 state=Opened'
    }

    It 'reports a session that cannot be reopened as Broken, with that router''s error' {
        $run = Invoke-AsAdmin $Lab {
            $s = New-BypassSession -ComputerName 192.0.2.3 -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile $Lab.Ssh.KnownHostsFile -ConnectTimeout 5
            # byp2's sshd goes away for good (the last use of byp2 in this file): its daemon, then its connections.
            $daemon = [int](Get-Content (Join-Path $Lab.Dir 'sshd2.pid') -Raw)
            $children = @(& pgrep -P $daemon)
            Stop-Process -Id $daemon -Force
            foreach ($child in $children) { Stop-Process -Id ([int]$child) -Force }
            Start-Sleep -Milliseconds 300
            Get-BypassForward -Session $s
            "state=$($s.State)"
        }
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.ConnectionRefused*'
        $run.Errors[0].Target | Should -Be '192.0.2.3'
        $run.Errors[0].Message | Should -BeLike 'Session * to 192.0.2.3 lost its connection * and could not be reopened: *'
        $run.Output | Should -Be @('state=Broken')
    }

    It 'refuses SSH settings beside -Session' {
        $run = Invoke-AsAdmin $Lab {
            $s = New-BypassSession -ComputerName 192.0.2.2 -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile $Lab.Ssh.KnownHostsFile
            try { Get-BypassForward -Session $s -UserName bnadmin } finally { $s | Remove-BypassSession }
        }
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.SessionConflict*'
        $run.Errors[0].Message | Should -BeLike '*-UserName*'
    }
}

Describe 'Logging in as ssh does' {
    BeforeAll {
        # A home directory for the admin, with a .ssh holding whatever each test puts there.
        function Invoke-WithHome([hashtable] $Files, [scriptblock] $Block) {
            Invoke-AsAdmin $Lab -Params @{ Files = $Files; Block = "$Block" } {
                $dir = Join-Path ([IO.Path]::GetTempPath()) "home-$PID"
                New-Item -ItemType Directory (Join-Path $dir '.ssh') -Force | Out-Null
                foreach ($name in $Params.Files.Keys) { Copy-Item (Join-Path $Lab.Dir $Params.Files[$name]) (Join-Path $dir ".ssh/$name") }
                $env:HOME = $dir
                & ([scriptblock]::Create($Params.Block)) 4>&1 | ForEach-Object {
                    if ($_ -is [System.Management.Automation.VerboseRecord]) { "VERBOSE: $($_.Message)" } else { $_ }
                }
            }
        }
    }

    It 'uses the default identity and ~/.ssh/known_hosts without -KeyFile and -KnownHostsFile, and says which key' {
        $run = Invoke-WithHome @{ id_ecdsa = 'admin_ecdsa'; known_hosts = 'known_hosts' } { @(Get-BypassForward -ComputerName 192.0.2.2 -Verbose).Count }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output | Where-Object { $_ -is [int] }) | Should -Be @(1)
        @($run.Output -like 'VERBOSE: Connected to 192.0.2.2 as root with key */.ssh/id_ecdsa (default identity*') | Should -HaveCount 1
        @($run.Output -like 'VERBOSE: *host key * accepted (*/.ssh/known_hosts)*') | Should -HaveCount 1
    }

    It 'tries the default identities in ssh''s order until the router accepts one' {
        & ssh-keygen -q -t ed25519 -N '' -C stranger -f (Join-Path $Lab.Dir 'stranger_ed25519') | Out-Null
        $run = Invoke-WithHome @{ id_ed25519 = 'stranger_ed25519'; id_rsa = 'admin_rsa'; known_hosts = 'known_hosts' } { @(Get-BypassForward -ComputerName 192.0.2.2 -Verbose).Count }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output -like 'VERBOSE: Connected to 192.0.2.2 as root with key */.ssh/id_rsa (default identity*') | Should -HaveCount 1
    }

    It 'names the default identities it tried when the router accepts none' {
        $run = Invoke-WithHome @{ id_ed25519 = 'stranger_ed25519'; known_hosts = 'known_hosts' } { Get-BypassForward -ComputerName 192.0.2.2 }
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.AuthenticationFailed*'
        $run.Errors[0].Message | Should -BeLike '*default identities */.ssh/id_ed25519*'
    }

    It 'says which files it looked for when there is no key at all, before connecting' {
        $run = Invoke-WithHome @{ known_hosts = 'known_hosts' } { Get-BypassForward -ComputerName 192.0.2.2 }
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.NoCredentials*'
        $run.Errors[0].Message | Should -BeLike '*-KeyFile*.ssh/id_ed25519*id_ecdsa*id_rsa*'
    }

    It 'names ~/.ssh/known_hosts in the unknown-host error' {
        $run = Invoke-WithHome @{ id_ecdsa = 'admin_ecdsa' } { Get-BypassForward -ComputerName 192.0.2.2 }
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.HostKeyUnknown*'
        $run.Errors[0].Message | Should -BeLike "*no known_hosts file at '*/.ssh/known_hosts'*-HostKeyFingerprint $($Lab.Fingerprint)*"
    }

    It 'accepts a new host key with -AcceptNewHostKey and appends it to ~/.ssh/known_hosts as OpenSSH does' {
        $run = Invoke-WithHome @{ id_ecdsa = 'admin_ecdsa' } {
            @(Get-BypassForward -ComputerName 192.0.2.2 -AcceptNewHostKey -Verbose).Count
            Get-Content (Join-Path $env:HOME '.ssh/known_hosts')
            # From now on the key is known: no -AcceptNewHostKey needed.
            @(Get-BypassForward -ComputerName 192.0.2.2).Count
        }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output | Where-Object { $_ -is [int] }) | Should -Be @(1, 1)
        $hostKey = (Get-Content (Join-Path $Lab.Dir 'host_ed25519.pub') -Raw).Split(' ')[0..1] -join ' '
        @($run.Output -like '192.0.2.2 ssh-ed25519 *') | Should -Be @("192.0.2.2 $hostKey")
        @($run.Output -like 'VERBOSE: *accepted as a new host, and added to */.ssh/known_hosts (-AcceptNewHostKey).') | Should -HaveCount 1
        # As ssh's "Permanently added ... to the list of known hosts", once: the second call knew the key.
        $run.Warnings | Should -HaveCount 1
        $run.Warnings[0] | Should -BeLike "Permanently added 192.0.2.2 ($($Lab.Fingerprint)) to the list of known hosts in '*/.ssh/known_hosts' (-AcceptNewHostKey).*"
    }

    It 'refuses an MD5-style -HostKeyFingerprint as a wrong format, before connecting' {
        $run = Invoke-WithHome @{ id_ecdsa = 'admin_ecdsa' } { Get-BypassForward -ComputerName 192.0.2.2 -HostKeyFingerprint 11:22:33 -Verbose }
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.InvalidFingerprint*'
        $run.Errors[0].Category | Should -Be 'InvalidData'
        $run.Errors[0].Message | Should -BeLike "-HostKeyFingerprint '11:22:33' is not a SHA256 fingerprint*MD5*"
        $run.Errors[0].Message | Should -Not -BeLike '*intercepting*'
        @($run.Output -like 'VERBOSE: Connecting*') | Should -BeNullOrEmpty
    }

    It 'still refuses a changed host key with -AcceptNewHostKey, showing both fingerprints' {
        # known_hosts lists byp2's key for 192.0.2.2: to the client, the router's key has changed.
        $listed = (& ssh-keygen -l -E sha256 -f (Join-Path $Lab.Dir 'host2_ed25519.pub')).Split(' ')[1]
        Set-Content (Join-Path $Lab.Dir 'known_hosts_changed') "192.0.2.2 $((Get-Content (Join-Path $Lab.Dir 'host2_ed25519.pub') -Raw).Split(' ')[0..1] -join ' ')"
        $run = Invoke-WithHome @{ id_ecdsa = 'admin_ecdsa'; known_hosts = 'known_hosts_changed' } {
            Get-BypassForward -ComputerName 192.0.2.2 -AcceptNewHostKey
            @(Get-Content (Join-Path $env:HOME '.ssh/known_hosts')).Count
        }
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.HostKeyMismatch*'
        $run.Errors[0].Message | Should -BeLike "*presented ssh-ed25519 $($Lab.Fingerprint)*lists ssh-ed25519 $listed*"
        $run.Output | Should -Be @(1)
    }
}
