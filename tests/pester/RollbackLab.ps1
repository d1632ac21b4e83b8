# Helpers shared by Reliability.Tests.ps1 and CommitConfirmed.Tests.ps1 (dot-sourced in their BeforeAll):
# an apply from CSV text, the names the router holds, and the saved set of -Persist.

function Invoke-Apply($Lab, [string] $CsvText, [hashtable] $Extra = @{}) {
    Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; Extra = $Extra } {
        $ssh = $Lab.Ssh; $extra = $Params.Extra
        $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh @extra
    }
}

function Get-RouterNames($Lab) {
    $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Get-BypassForward @ssh | ForEach-Object Name }
    $run.Errors | Should -BeNullOrEmpty
    @($run.Output | Sort-Object)
}

# The saved set as sorted lines: a rollback writes the same rules, not always in the same order.
function Get-SavedRuleset($Lab) {
    (Invoke-LabRouter $Lab 'cat /etc/bypassnat/ruleset.nft /etc/bypassnat/ruleset.iptables 2>/dev/null; true' |
        ForEach-Object { $_.Trim().TrimEnd(',') } | Where-Object { $_ } | Sort-Object) -join "`n"
}
