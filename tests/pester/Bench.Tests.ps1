# The bench (build.ps1 Bench) is not part of Test: this runs it once with tiny sizes (-Smoke), so the
# bench keeps working as the code changes. It checks that every row is measured and the table is
# produced, and what does not depend on timing: how many SSH commands an apply costs.
BeforeAll {
    $script:Result = & (Join-Path $PSScriptRoot '../bench/Bench.ps1') -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Smoke 6>$null
}

Describe 'build.ps1 Bench -Smoke' {
    It 'measures every row of the table, for both backends where it applies' {
        $names = @($Result.Rows | ForEach-Object { "$($_.Name)|$($_.Backend)" })
        foreach ($expected in 'floor: OpenSSH ssh ... true|', 'floor: SSH.NET connect + true|', "seed's way: 3 ssh iptables -I|Iptables",
            'Import-Csv alone, 100 rows|', 'Import-Csv | New-BypassForward, 100 rows|') {
            $names | Should -Contain $expected
        }
        foreach ($backend in 'Iptables', 'Nftables') {
            foreach ($row in 'apply 1 (fresh router)', 're-apply 1 (no-op)', 'apply 10 (fresh router)', 're-apply 10 (no-op)', 'apply removing 9 of 10',
                'apply a 100-port TcpUdp range', 'data path: 20 TCP connections, 1 forward(s)', 'data path: 20 TCP connections, 10 forward(s)') {
                $names | Should -Contain "$row|$backend"
            }
        }
        foreach ($row in "re-apply 10 (no-op, reused session)|Iptables", "re-apply 10 (no-op, reused session)|Nftables",
            "shape 'one device port', 100 rows: Import-Csv | New-BypassForward|", "shape 'every row bad', 100 rows: Import-Csv | New-BypassForward|",
            "shape 'nested ranges', 100 rows: Import-Csv | New-BypassForward|", "shape 'one device port', 100 rows: ... | ConvertTo-BypassRuleset -Format Iptables|",
            'cold: a fresh pwsh running Update-BypassForwards.ps1, 10 unchanged|', 'cold: first apply of 10 in a fresh process|') {
            $names | Should -Contain $row
        }
        $Result.Rows | ForEach-Object { $_.Median | Should -BeGreaterThan 0 -Because $_.Name }
    }

    It 'counts one SSH command for a no-op apply (over a reused session too) and two for a change, whatever the number of forwards' {
        # Through a reused session too: the session tests its connection with no command of its own.
        foreach ($row in $Result.Rows | Where-Object { $_.Name -like 're-apply*' }) { $row.Commands | Should -Be 1 -Because "$($row.Name) $($row.Backend)" }
        foreach ($row in $Result.Rows | Where-Object { $_.Name -like 'apply *' }) { $row.Commands | Should -Be 2 -Because "$($row.Name) $($row.Backend)" }
    }

    It 'runs each shape of input to its end: the valid one passes, the others end in the set''s error' {
        ($Result.Rows | Where-Object Name -eq "shape 'one device port', 100 rows: Import-Csv | New-BypassForward").Note | Should -Not -Match 'ends in'
        foreach ($shape in 'one port on every row', 'overlapping ranges', 'nested ranges', 'every row bad') {
            ($Result.Rows | Where-Object Name -eq "shape '$shape', 100 rows: Import-Csv | New-BypassForward").Note | Should -Match 'ends in BypassNat.InvalidForwardSet' -Because $shape
        }
    }

    It 'prints one table with the ratio to the floor and the machine it ran on' {
        $Result.Table | Should -Match '(?m)^\| Row \| Backend \| Median \| x floor \|'
        $Result.Table | Should -Match '(?m)^\| floor: OpenSSH ssh \.\.\. true \|  \| (\d+ ms|[\d,.]+ s) \| 1\.00 \|'
        $Result.Table | Should -Match '(?m)^\| Import-Csv \\\| New-BypassForward, 100 rows \|'
        $Result.Report | Should -Match '\| CPUs \| \d+ \|'
        $Result.Report | Should -Match '\| Kernel \| '
    }
}
