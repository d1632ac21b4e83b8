# Get-BypassForward against a real router in the lab: reading back, name filters, and the SSH
# login and host-key options every router cmdlet shares.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat')
    $run = Invoke-AsAdmin $Lab {
        $ssh = $Lab.Ssh
        @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,SourceNat,Comment
web,Tcp,8080,192.0.2.2,192.0.2.20,80,,
web-admin,Tcp,8443,192.0.2.2,192.0.2.20,443,,
far,TcpUdp,2222,192.0.2.2,198.51.100.7,22,true,Outside the LAN: needs source NAT
'@ | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh
    }
    if ($run.Errors) { throw "Setting up the router failed: $($run.Errors.Message)" }
}

AfterAll {
    Stop-BypassLab $script:Lab
}

Describe 'Get-BypassForward' {
    It 'filters by name with wildcards' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; (Get-BypassForward web* @ssh).Name }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output) | Sort-Object | Should -Be @('web', 'web-admin')
    }

    It 'says so when a plain name matches nothing, but not for a wildcard' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Get-BypassForward nosuch, 'zz*', web @ssh | ForEach-Object Name }
        @($run.Output) | Should -Be @('web')
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.ForwardNotFound*'
        $run.Errors[0].Target | Should -Be 'nosuch'
    }

    It 'reads a source-NATed forward back with its source NAT, from the POSTROUTING rule' {
        $run = Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            Get-BypassForward far @ssh | Select-Object Name, SourceNat, @{ n = 'Protocol'; e = { "$($_.Protocol)" } }, Comment
        }
        $run.Output[0].SourceNat | Should -BeTrue
        $run.Output[0].Protocol | Should -Be 'TcpUdp'
        $run.Output[0].Comment | Should -Be 'Outside the LAN: needs source NAT'
        $nat = Get-LabNatTable $Lab
        # Auto chose nftables on the lab's router: the source NAT is an element of the sourcenat map.
        $nat | Should -Match '(?s)map sourcenat \{[^}]*udp \. 198\.51\.100\.7 \. 22 comment "bypassnat;name=far;ext=2222[^"]*" : 192\.0\.2\.2'
    }

    It 'logs in with <Key> keys' -ForEach @(@{ Key = 'admin_ed25519' }, @{ Key = 'admin_rsa' }, @{ Key = 'admin_ecdsa' }) {
        $run = Invoke-AsAdmin $Lab -Params @{ Key = $Key } {
            Get-BypassForward -ComputerName 192.0.2.2 -KeyFile (Join-Path $Lab.Dir $Params.Key) -KnownHostsFile $Lab.Ssh.KnownHostsFile
        }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output).Count | Should -Be 3
    }

    It 'offers the router the host key type its known_hosts entry has' {
        # The router has ed25519 and RSA host keys; this file lists only the RSA one.
        $run = Invoke-AsAdmin $Lab {
            Get-BypassForward -ComputerName 192.0.2.2 -KeyFile $Lab.Ssh.KeyFile -KnownHostsFile (Join-Path $Lab.Dir 'known_hosts_rsa') -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
        }
        $run.Errors | Should -BeNullOrEmpty
        $rsa = (& ssh-keygen -l -E sha256 -f (Join-Path $Lab.Dir 'host_rsa.pub')).Split(' ')[1]
        ($run.Output -join "`n") | Should -Match ([regex]::Escape("host key $rsa accepted"))
    }

    It 'logs in with a password from -Credential, as the credential''s user' {
        $run = Invoke-AsAdmin $Lab {
            $password = ConvertTo-SecureString (Get-Content (Join-Path $Lab.Dir 'bnadmin_password') -Raw).Trim() -AsPlainText -Force
            $credential = [pscredential]::new('bnadmin', $password)
            (Get-BypassForward -ComputerName 192.0.2.2 -Credential $credential -Sudo -KnownHostsFile $Lab.Ssh.KnownHostsFile).Name
        }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output) | Sort-Object | Should -Be @('far', 'web', 'web-admin')
    }

    It 'opens a passphrase-protected key with -Credential, and never shows the passphrase' {
        $run = Invoke-AsAdmin $Lab {
            $key = Join-Path $Lab.Dir 'admin_protected'
            foreach ($passphrase in "$($Lab.Prefix)-passphrase", 'not-the-passphrase') {
                $credential = [pscredential]::new('root', (ConvertTo-SecureString $passphrase -AsPlainText -Force))
                @(Get-BypassForward -ComputerName 192.0.2.2 -KeyFile $key -Credential $credential -KnownHostsFile $Lab.Ssh.KnownHostsFile).Count
            }
        }
        $run.Output | Should -Be @(3)
        $run.Errors | Should -HaveCount 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.KeyFileInvalid*'
        $run.Errors[0].Message | Should -Not -Match 'not-the-passphrase'
    }

    It 'refuses a key that is not authorised, with an authentication error' {
        $run = Invoke-AsAdmin $Lab {
            $other = Join-Path $Lab.Dir 'stranger'
            & ssh-keygen -q -t ed25519 -N '' -f $other | Out-Null
            Get-BypassForward -ComputerName 192.0.2.2 -KeyFile $other -KnownHostsFile $Lab.Ssh.KnownHostsFile
        }
        $run.Output | Should -HaveCount 0
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.AuthenticationFailed*'
        $run.Errors[0].Category | Should -Be 'AuthenticationError'
    }

    It 'says clearly when the key file is missing, without a stack trace' {
        $run = Invoke-AsAdmin $Lab { Get-BypassForward -ComputerName 192.0.2.2 -KeyFile /nonexistent/key -KnownHostsFile $Lab.Ssh.KnownHostsFile }
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.KeyFileUnreadable*'
        $run.Errors[0].Message | Should -BeLike "*'/nonexistent/key'*"
        $run.Errors[0].Message | Should -Not -Match '\bat [A-Z][\w.]+\('
    }
}
