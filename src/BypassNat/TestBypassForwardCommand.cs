using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>Compares the forwards piped in with what the router holds, without changing anything.</summary>
    [Cmdlet(VerbsDiagnostic.Test, "BypassForward")]
    [OutputType(typeof(ForwardDrift), typeof(bool))]
    public sealed class TestBypassForwardCommand : RouterCommand
    {
        /// <summary>The desired set; none means the router should hold no forwards.</summary>
        [Parameter(ValueFromPipeline = true)]
        [AllowEmptyCollection]
        public BypassForward[] Forward { get; set; }

        /// <summary>The public address the forwards were applied with (IPv4 or DNS name), for those that name none.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string PublicAddress { get; set; }

        /// <summary>Only the forwards whose names match these wildcard patterns are compared.</summary>
        [Parameter]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(ForwardNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>Return only $true (the router matches) or $false.</summary>
        [Parameter]
        public SwitchParameter Quiet { get; set; }

        private readonly List<BypassForward> _desired = new List<BypassForward>();

        protected override void ProcessRecord()
        {
            if (Forward != null) _desired.AddRange(Forward);
        }

        protected override void EndProcessing()
        {
            try
            {
                ResolvePublicAddress(PublicAddress, _desired);
                StopOnIssues(ForwardSetValidator.Check(_desired), _desired);
                using (RouterSession session = Connect())
                {
                    RouterState state = Applier(session).ReadState();
                    IReadOnlyList<ForwardDrift> drift = ForwardDrift.Compare(ComputerName, _desired, state);
                    if (Name != null)
                    {
                        // Drift that is no one forward's (rules not hooked in, unreadable rules) concerns every name.
                        var patterns = Name.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
                        drift = drift.Where(d => d.Name == null || patterns.Any(p => p.IsMatch(d.Name))).ToList();
                    }

                    if (Quiet) WriteObject(drift.Count == 0);
                    else foreach (ForwardDrift item in drift) WriteObject(item);
                }
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }
        }
    }
}
