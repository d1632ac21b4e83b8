using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Validation;

namespace BypassNat.Commands
{
    /// <summary>Compares the forwards piped in with what the router holds, without changing anything.</summary>
    [Cmdlet(VerbsDiagnostic.Test, "BypassForward", DefaultParameterSetName = ComputerNameSet)]
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

        /// <summary>Return only $true (every router matches) or $false.</summary>
        [Parameter]
        public SwitchParameter Quiet { get; set; }

        private readonly List<BypassForward> _desired = new List<BypassForward>();

        // Whether any forward (or an explicit empty -Forward) was given: without, the router is compared with nothing.
        private bool _given;

        protected override void ProcessInput()
        {
            if (MyInvocation.BoundParameters.ContainsKey(nameof(Forward))) _given = true;
            if (Forward != null) _desired.AddRange(Forward);
        }

        protected override void ProcessRouters()
        {
            try
            {
                ResolvePublicAddress(PublicAddress, _desired);
                StopOnIssues(ForwardSetValidator.Check(_desired), _desired);
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }

            // Every forward would read "Unexpected" without a word of why: say what it is compared with.
            if (!_given)
                WriteWarning($"No forwards were piped in or given with -Forward, so {RouterNames} is compared with an empty set: every forward it holds is reported Unexpected. " +
                             "To compare it with your CSV: Import-Csv forwards.csv | New-BypassForward | Test-BypassForward ... (-Forward @() says on purpose that it should hold none).");

            int drifting = 0;
            IReadOnlyList<RouterTarget> read = ForEachRouter((router, session) =>
            {
                // With several routers, each is compared with the forwards for its own addresses.
                ForwardApplier applier = Applier(router, session);
                IReadOnlyList<BypassForward> desired = _desired;
                if (Routers.Count > 1 && Role == RouterRole.Bypass)
                    desired = _desired.Where(f => applier.Addresses.Owns(f.BypassAddress)).ToList();

                IReadOnlyList<ForwardDrift> drift = ForwardDrift.Compare(router.Name, applier.Project(desired), applier.ReadState());
                if (!_given)
                    foreach (ForwardDrift item in drift.Where(d => d.Kind == DriftKind.Unexpected))
                        item.Detail = "on the router; no forwards were given to compare with";
                var exemption = applier.Proxy == null ? null : Proxy.ProxyExemption.For(applier.Proxy, desired);
                if (exemption != null && exemption.NeedsWrite)
                    drift = drift.Concat(new[] { new ForwardDrift { ComputerName = router.Name, Kind = DriftKind.Unexempted, Detail = exemption.Describe().Trim() } }).ToList();
                drift = drift.Concat(Ipv6Drift(router.Name, applier, desired, drift)).ToList();
                if (Name != null)
                {
                    // Drift that is no one forward's (rules not hooked in, unreadable rules) concerns every name.
                    var patterns = Name.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
                    drift = drift.Where(d => d.Name == null || patterns.Any(p => p.IsMatch(d.Name))).ToList();
                }

                Interlocked.Add(ref drifting, drift.Count);
                if (!Quiet) foreach (ForwardDrift item in drift) Emit(item);
            });
            if (Quiet) WriteObject(drifting == 0 && read.Count == Routers.Count);
        }

        /// <summary>
        /// The IPv6 rules (pinholes, reply exemption) against the forwards' InternalIPv6: a rule missing, changed
        /// or left over is its forward's <c>Different</c> on InternalIPv6, a jump not first <c>Unhooked</c>. A
        /// forward already reported missing or unexpected as a whole is not reported again.
        /// </summary>
        private static IEnumerable<ForwardDrift> Ipv6Drift(string router, ForwardApplier applier, IReadOnlyList<BypassForward> desired, IReadOnlyList<ForwardDrift> found)
        {
            // A backend that holds the IPv6 half itself (OpenWrt's UCI traffic rules) reports its drift with the rest.
            if (applier.HoldsIpv6) yield break;
            if (applier.Ipv6State == null || !applier.Ipv6State.HasTool || applier.Ipv6State.Problem != null) yield break;
            var whole = new HashSet<string>(found.Where(d => d.Kind == DriftKind.Missing || d.Kind == DriftKind.Unexpected).Select(d => d.Name));
            var wanted = desired.ToDictionary(f => f.Name, System.StringComparer.Ordinal);
            foreach (var item in Backends.Iptables.Ipv6Pinholes.For(applier.Hop.Role, applier.Ipv6State, desired, router).Drift())
            {
                if (item.Key != null && whole.Contains(item.Key)) continue;
                yield return item.Key == null
                    ? new ForwardDrift { ComputerName = router, Kind = DriftKind.Unhooked, Detail = item.Value }
                    : new ForwardDrift
                    {
                        ComputerName = router, Name = item.Key, Kind = DriftKind.Different, Fields = new[] { nameof(BypassForward.InternalIPv6) },
                        Desired = wanted.TryGetValue(item.Key, out BypassForward forward) ? forward : null, Detail = item.Value,
                    };
            }
        }
    }
}
