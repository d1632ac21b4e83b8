using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using BypassNat.Backends;
using BypassNat.Registry;
using BypassNat.Validation;

namespace BypassNat.Commands
{
    /// <summary>Renders forwards as router rules without connecting anywhere, to read, review or paste.</summary>
    [Cmdlet(VerbsData.ConvertTo, "BypassRuleset")]
    [OutputType(typeof(string))]
    public sealed class ConvertToBypassRulesetCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [AllowEmptyCollection]
        public BypassForward[] Forward { get; set; }

        [Parameter(Position = 0)]
        public RulesetFormat Format { get; set; } = RulesetFormat.Nftables;

        /// <summary>
        /// The router's LANs (CIDR, e.g. 192.0.2.0/24), for the rules that source-NAT clients on a
        /// device's own LAN. Invoke-BypassForwardApply reads them from the router itself.
        /// </summary>
        [Parameter]
        public string[] LanPrefix { get; set; }

        /// <summary>Which half to render: Bypass (the default) or Main (the main router's, which needs -WanInterface).</summary>
        [Parameter]
        public RouterRole Role { get; set; } = RouterRole.Bypass;

        /// <summary>With -Role Main: the main router's WAN interface, which the rules match on.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string WanInterface { get; set; }

        private readonly List<BypassForward> _forwards = new List<BypassForward>();

        protected override void ProcessRecord()
        {
            if (Forward != null) _forwards.AddRange(Forward);
        }

        protected override void EndProcessing()
        {
            IReadOnlyList<ForwardIssue> issues = ForwardSetCheck.WithoutRouter(_forwards);
            if (issues.Count > 0)
                IssueReport.Stop(this, issues.Select(i => new KeyValuePair<ForwardIssue, object>(i, _forwards[i.Row - 1])).ToList(),
                    $"{issues.Count} problem(s) in the forwards piped in; nothing was rendered.", null);
            var prefixes = new List<Ipv4Prefix>();
            foreach (string text in LanPrefix ?? new string[0])
            {
                if (Ipv4Prefix.TryParse(text, out Ipv4Prefix prefix)) prefixes.Add(prefix);
                else ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.InvalidLanPrefix", ErrorCategory.InvalidArgument,
                    $"-LanPrefix '{text}' is not an IPv4 network such as 192.0.2.0/24: {Ipv4Prefix.Why(text)}.", text));
            }

            if (Role == RouterRole.Main && WanInterface == null)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.WanInterfaceRequired", ErrorCategory.InvalidArgument,
                    "-Role Main renders rules that match on the main router's WAN interface: name it with -WanInterface (Invoke-BypassForwardApply finds it on the router).", null));
            if (WanInterface != null && Role != RouterRole.Main)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.WanInterfaceNotMain", ErrorCategory.InvalidArgument,
                    "-WanInterface is for the main router (-Role Main).", WanInterface));
            if (WanInterface != null && !MainHop.IsValidInterface(WanInterface))
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.InvalidInterface", ErrorCategory.InvalidArgument,
                    $"-WanInterface '{WanInterface}' is not a network interface name (letters, digits, '.', '_', '-'; at most 15 characters).", WanInterface));
            string rendered;
            try
            {
                rendered = RulesetRenderer.Render(_forwards, Format, new RenderContext(prefixes, WanInterface), Role);
            }
            catch (BypassNatException failure)
            {
                // A forward the format cannot hold exactly (-Format Uci: BypassNat.SourceNotUci).
                ThrowTerminatingError(ErrorRecords.From(failure));
                return;
            }

            WriteObject(rendered);
        }
    }
}
