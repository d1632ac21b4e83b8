# Compiles docs/<Cmdlet>.md into en-US/BypassNat.dll-Help.xml (MAML), so Get-Help shows the same text
# as the Markdown pages. Syntax, parameter types, pipeline input and output types come from the built
# cmdlets' own metadata, so new cmdlets and parameters need only their page.
param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [string] $Out)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function ConvertTo-MamlText([string] $Text) { [Security.SecurityElement]::Escape($Text) }

# The "## NAME" sections of a help page, each as its lines.
function Get-HelpSection([string] $Page) {
    $sections = @{}
    $current = $null
    foreach ($line in Get-Content $Page) {
        if ($line -match '^## (.+)$') { $current = $Matches[1].Trim(); $sections[$current] = [Collections.Generic.List[string]]::new(); continue }
        if ($current) { $sections[$current].Add($line) }
    }
    $sections
}

# "- **Name** — text" items, with their indented continuation lines, as name -> text.
function Get-ParameterText([string[]] $Lines) {
    $text = [ordered]@{}
    $name = $null
    foreach ($line in $Lines) {
        if ($line -match '^- \*\*(\w+)\*\* [-—–]+ (.+)$') { $name = $Matches[1]; $text[$name] = $Matches[2].Trim() }
        elseif ($name -and $line -match '^\s+(\S.*)$') { $text[$name] += ' ' + $Matches[1].Trim() }
        else { $name = $null }
    }
    $text
}

# Paragraphs of Markdown text: lines of a paragraph run together; list items and table rows keep their own lines.
function ConvertTo-MamlParagraph([string[]] $Lines) {
    $paragraphs = (($Lines -join "`n").Trim() -split '\n\s*\n') | Where-Object { $_.Trim() }
    ($paragraphs | ForEach-Object { "<maml:para>$(ConvertTo-MamlText ($_.Trim() -replace '\n(?![-|])', ' '))</maml:para>" }) -join ''
}

# The examples of a page: each "### title" (optional), ONE fenced code block, and the text after it
# as remarks. A code block of several lines is one example.
function Get-HelpExample([string[]] $Lines) {
    $examples = [Collections.Generic.List[object]]::new()
    $example = $null
    $inCode = $false
    foreach ($line in $Lines) {
        if ($inCode) {
            if ($line -match '^```') { $inCode = $false } else { $example.Code.Add($line) }
            continue
        }
        if ($line -match '^### (.+)$' -or ($line -match '^```' -and (-not $example -or $example.Code.Count))) {
            $example = [pscustomobject]@{ Title = ''; Code = [Collections.Generic.List[string]]::new(); Remarks = [Collections.Generic.List[string]]::new() }
            $examples.Add($example)
            if ($line -match '^### (?:Example \d+:\s*)?(.+)$') { $example.Title = $Matches[1].Trim(); continue }
        }
        if ($line -match '^```') { $inCode = $true; continue }
        if ($example) { $example.Remarks.Add($line) }
    }
    $examples
}

# What a parameter is when the user does not give it, as the compiled cmdlet initialises it: shown by
# Get-Help -Full and -Parameter. Zero, false and nothing are "None" (0 means "not set" for the
# timeouts that have no default, e.g. -ConfirmTimeout), an enum its name, a list its items.
function Get-DefaultValue([object] $Instance, [System.Management.Automation.ParameterMetadata] $Parameter) {
    # -WhatIf and -Confirm are PowerShell's, not properties of the cmdlet.
    $property = $Instance.GetType().GetProperty($Parameter.Name)
    if (-not $property) { return 'None' }
    $value = $property.GetValue($Instance)
    if ($null -eq $value -or $value -is [System.Management.Automation.SwitchParameter]) { return 'None' }
    if ($value -is [Array]) { return $(if ($value.Count) { $value -join ', ' } else { 'None' }) }
    if ($value -isnot [Enum] -and $value -is [ValueType] -and $value -eq [Activator]::CreateInstance($value.GetType())) { return 'None' }
    "$value"
}

# The SYNTAX block of a page is what PowerShell itself says of the compiled cmdlet (Get-Command
# -Syntax), one line a parameter set, without the parameters it hides from users (DontShow: New-
# BypassForward's fast pipeline set); a set of hidden parameters only is no syntax a user writes.
# The build writes it into docs/<Cmdlet>.md, so the page can never drift from the code.
function Get-PageSyntax([System.Management.Automation.CommandInfo] $Command, [string[]] $Hidden) {
    $lines = @((Get-Command $Command.Name -Syntax) -split '\r?\n' | ForEach-Object Trim | Where-Object { $_ })
    $lines = @(foreach ($line in $lines) {
            foreach ($name in $Hidden) { $line = $line -replace "\s\[{0,2}-$name\]?(\s<[^>]+>)?\]?(?=\s|$)", '' }
            $line
        })
    if ($lines.Count -gt 1) { $lines = @($lines | Where-Object { $_ -ne "$($Command.Name) [<CommonParameters>]" }) }
    $lines
}

function Update-PageSyntax([string] $Page, [string[]] $Syntax) {
    $text = [IO.File]::ReadAllText($Page)
    $pattern = '(?s)(## SYNTAX\r?\n```[^\n]*\n)(.*?)(\r?\n```)'
    if ($text -notmatch $pattern) { throw "$Page has no '## SYNTAX' section with a code block for the build to fill in." }
    $updated = [regex]::new($pattern).Replace($text, { param($m) $m.Groups[1].Value + ($Syntax -join "`n") + $m.Groups[3].Value }, 1)
    if ($updated -ne $text) {
        [IO.File]::WriteAllText($Page, $updated)
        Write-Host "Wrote the SYNTAX of $([IO.Path]::GetFileName($Page)) from the compiled cmdlet."
    }
}

$module = Import-Module (Join-Path $Out 'BypassNat.psd1') -PassThru -Force
$xml = [Text.StringBuilder]::new()
[void]$xml.AppendLine('<?xml version="1.0" encoding="utf-8"?>')
[void]$xml.AppendLine('<helpItems schema="maml" xmlns="http://msh">')
# The router parameters are described once, on Invoke-BypassForwardApply's page; -WhatIf and
# -Confirm as PowerShell describes them everywhere.
$shared = Get-ParameterText (Get-HelpSection (Join-Path $Root 'docs/Invoke-BypassForwardApply.md'))['PARAMETERS']
$shared['WhatIf'] = 'Shows what would change on the router, and changes nothing.'
$shared['Confirm'] = 'Asks for confirmation before changing the router.'
$common = [System.Management.Automation.Cmdlet]::CommonParameters
$isParameterAttribute = { $_ -is [System.Management.Automation.ParameterAttribute] }
foreach ($command in Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name) {
    $page = Join-Path $Root "docs/$($command.Name).md"
    if (-not (Test-Path $page)) { throw "docs/$($command.Name).md is missing: every cmdlet has a help page." }
    $sections = Get-HelpSection $page
    $synopsis = (($sections['SYNOPSIS'] | Where-Object { $_ }) -join ' ').Trim()
    $parameterText = [ordered]@{}
    foreach ($entry in $shared.GetEnumerator()) { $parameterText[$entry.Key] = $entry.Value }
    foreach ($entry in (Get-ParameterText $sections['PARAMETERS']).GetEnumerator()) { $parameterText[$entry.Key] = $entry.Value }
    $visible = @($command.Parameters.Values | Where-Object { $_.Name -notin $common -and -not ($_.Attributes | Where-Object $isParameterAttribute | Where-Object DontShow) })
    $hidden = @($command.Parameters.Values | Where-Object { $_.Name -notin $common -and $_.Name -notin $visible.Name } | ForEach-Object Name)
    Update-PageSyntax $page (Get-PageSyntax $command $hidden)
    $instance = [Activator]::CreateInstance($command.ImplementingType)

    [void]$xml.AppendLine('<command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">')
    [void]$xml.AppendLine("<command:details><command:name>$($command.Name)</command:name><maml:description><maml:para>$(ConvertTo-MamlText $synopsis)</maml:para></maml:description><command:verb>$($command.Verb)</command:verb><command:noun>$($command.Noun)</command:noun></command:details>")
    [void]$xml.AppendLine("<maml:description>$(ConvertTo-MamlParagraph $sections['DESCRIPTION'])</maml:description>")
    $parameterXml = {
        param($p, $setName)
        $attributes = @($p.Attributes | Where-Object $isParameterAttribute)
        $attribute = @($attributes | Where-Object { $_.ParameterSetName -eq $setName }) + $attributes | Select-Object -First 1
        $pipeline = @(if ($attribute.ValueFromPipeline) { 'ByValue' }; if ($attribute.ValueFromPipelineByPropertyName) { 'ByPropertyName' })
        $position = if ($attribute -and $attribute.Position -ge 0) { $attribute.Position } else { 'named' }
        $type = $p.ParameterType
        $globbing = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
        $required = if ($attribute) { $attribute.Mandatory.ToString().ToLower() } else { 'false' }
        "<command:parameter required=`"$required`" pipelineInput=`"$(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' })`" position=`"$position`" globbing=`"$($globbing.ToString().ToLower())`">" +
        "<maml:name>$($p.Name)</maml:name><maml:description><maml:para>$(ConvertTo-MamlText $parameterText[$p.Name])</maml:para></maml:description>" +
        $(if ($type -ne [System.Management.Automation.SwitchParameter]) { "<command:parameterValue required=`"true`">$($type.Name)</command:parameterValue><dev:type><maml:name>$($type.FullName)</maml:name></dev:type>" }) +
        "<dev:defaultValue>$(ConvertTo-MamlText (Get-DefaultValue $instance $p))</dev:defaultValue>" +
        '</command:parameter>'
    }
    [void]$xml.Append('<command:syntax>')
    foreach ($set in $command.ParameterSets) {
        # Positional parameters first, in position order, -WhatIf and -Confirm last, the rest as
        # declared, as PowerShell's own syntax lines show them (-Stable: Sort-Object alone is not).
        $inSet = @($set.Parameters | Where-Object { $_.Name -notin $common -and $_.Name -in $visible.Name } |
                Sort-Object -Stable @{ e = { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } } }, @{ e = { $_.Name -in 'WhatIf', 'Confirm' } })
        # A set of hidden parameters only (New-BypassForward's fast pipeline set) is no syntax a user writes.
        if (-not $inSet -and $command.ParameterSets.Count -gt 1) { continue }
        [void]$xml.Append("<command:syntaxItem><maml:name>$($command.Name)</maml:name>")
        foreach ($p in $inSet) { [void]$xml.Append((& $parameterXml $command.Parameters[$p.Name] $set.Name)) }
        [void]$xml.Append('</command:syntaxItem>')
    }
    [void]$xml.AppendLine('</command:syntax>')
    [void]$xml.Append('<command:parameters>')
    foreach ($p in $visible) { [void]$xml.Append((& $parameterXml $p $null)) }
    [void]$xml.AppendLine('</command:parameters>')

    # INPUTS: what binds from the pipeline, by value and by property name, as the metadata says.
    [void]$xml.Append('<command:inputTypes>')
    $byValue = @($visible | Where-Object { $_.Attributes | Where-Object $isParameterAttribute | Where-Object ValueFromPipeline })
    $byName = @($visible | Where-Object { $_.Attributes | Where-Object $isParameterAttribute | Where-Object ValueFromPipelineByPropertyName })
    foreach ($p in $byValue) {
        [void]$xml.Append("<command:inputType><dev:type><maml:name>$(ConvertTo-MamlText $p.ParameterType.FullName)</maml:name></dev:type><maml:description><maml:para>Binds to -$($p.Name) from the pipeline.</maml:para></maml:description></command:inputType>")
    }
    if ($byName) {
        [void]$xml.Append("<command:inputType><dev:type><maml:name>System.Management.Automation.PSObject</maml:name></dev:type><maml:description><maml:para>Any object with properties named $(($byName.Name | ForEach-Object { "$_" }) -join ', ') (for example Import-Csv rows) binds by property name.</maml:para></maml:description></command:inputType>")
    }
    if (-not $byValue -and -not $byName) {
        [void]$xml.Append('<command:inputType><dev:type><maml:name>None</maml:name></dev:type><maml:description><maml:para>Nothing binds from the pipeline.</maml:para></maml:description></command:inputType>')
    }
    [void]$xml.AppendLine('</command:inputTypes>')
    # OUTPUTS: the [OutputType] types, described by the page's OUTPUTS section.
    [void]$xml.Append('<command:returnValues>')
    $outputText = ConvertTo-MamlParagraph $sections['OUTPUTS']
    foreach ($type in $command.OutputType) {
        [void]$xml.Append("<command:returnValue><dev:type><maml:name>$(ConvertTo-MamlText $type.Name)</maml:name></dev:type><maml:description>$outputText</maml:description></command:returnValue>")
        $outputText = ''
    }
    [void]$xml.AppendLine('</command:returnValues>')

    [void]$xml.Append('<command:examples>')
    $i = 0
    foreach ($example in Get-HelpExample $sections['EXAMPLES']) {
        $i++
        $title = if ($example.Title) { "Example ${i}: $($example.Title)" } else { "Example $i" }
        [void]$xml.Append("<command:example><maml:title>---------- $(ConvertTo-MamlText $title) ----------</maml:title><dev:code>$(ConvertTo-MamlText ($example.Code -join "`n"))</dev:code><dev:remarks>$(ConvertTo-MamlParagraph $example.Remarks)</dev:remarks></command:example>")
    }
    [void]$xml.AppendLine('</command:examples>')
    [void]$xml.AppendLine('<command:relatedLinks><maml:navigationLink><maml:linkText>about_BypassNat</maml:linkText></maml:navigationLink></command:relatedLinks>')
    [void]$xml.AppendLine('</command:command>')
}
[void]$xml.AppendLine('</helpItems>')
Remove-Module $module.Name -Force
Set-Content -Path (Join-Path $Out 'en-US/BypassNat.dll-Help.xml') -Value $xml.ToString() -Encoding utf8
