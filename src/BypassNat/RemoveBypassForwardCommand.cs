using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Ssh;
using BypassNat.Backends.IKuai;

namespace BypassNat.Commands
{
    /// <summary>
    /// Removes named forwards (the rest stay as they are, in the same kind of transaction an apply
    /// uses), or with -All every trace of BypassNat: its chains or table, the jumps, and what
    /// -Persist installed.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "BypassForward", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Name")]
    [OutputType(typeof(BypassForward))]
    public sealed class RemoveBypassForwardCommand : RouterCommand
    {
        // -Name or -All, each with -ComputerName or -Session: four parameter sets.
        [Parameter(Mandatory = true, ParameterSetName = "Name", ValueFromPipelineByPropertyName = true)]
        [Parameter(Mandatory = true, ParameterSetName = "All", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [Alias("Router", "HostName")]
        public override string[] ComputerName { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "NameSession", ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Parameter(Mandatory = true, ParameterSetName = "AllSession", ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public override BypassSession[] Session { get; set; }

        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "Name")]
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "NameSession")]
        [ArgumentCompleter(typeof(ForwardNameCompleter))]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "All")]
        [Parameter(Mandatory = true, ParameterSetName = "AllSession")]
        public SwitchParameter All { get; set; }

        /// <summary>
        /// With -Name: commit-confirmed, as for Invoke-BypassForwardApply: the router restores the
        /// removed forwards by itself after this many seconds unless a new SSH connection confirms. 5 to 3600.
        /// </summary>
        [Parameter(ParameterSetName = "Name")]
        [Parameter(ParameterSetName = "NameSession")]
        [ValidateRange(CommitConfirmation.MinimumSeconds, CommitConfirmation.MaximumSeconds)]
        public int ConfirmTimeout { get; set; }

        /// <summary>Write the removed forwards to the output.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        // Names per router: forwards piped in from Get-BypassForward name their own router.
        private readonly Dictionary<string, List<string>> _patterns = new Dictionary<string, List<string>>();

        protected override void ProcessInput()
        {
            if (Name == null) return;
            foreach (string key in CurrentRouterKeys())
            {
                if (!_patterns.TryGetValue(key, out List<string> names)) _patterns[key] = names = new List<string>();
                names.AddRange(Name);
            }
        }

        protected override void ProcessRouters()
        {
            ForEachRouter((router, session) =>
            {
                ForwardApplier applier = Applier(router, session);
                if (All) RemoveAll(router, applier);
                else RemoveNamed(router, applier);
            });
        }

        /// <summary>
        /// On an iKuai router only the named mappings go (switched on or off): the set is not rewritten,
        /// so no other mapping is touched.
        /// </summary>
        private void RemoveNamedMappings(RouterTarget router, IKuaiBackend ikuai)
        {
            List<BypassForward> doomed = SelectByName(router, ikuai.Router.Read().Forwards,
                _patterns.TryGetValue(router.Key, out List<string> names) ? names.Distinct(System.StringComparer.OrdinalIgnoreCase).ToList() : new List<string>());
            if (doomed.Count == 0) return;
            IKuaiChange change = ikuai.Router.PrepareRemoval(doomed.Select(f => f.Name).ToList());
            if (!Confirm($"{router.Name} (IKuai)\n{change.Plan.Describe()}\n", "Remove forwards")) return;
            ikuai.Router.Apply(change);
            RecentForwards.Remember(router.Name, change.DesiredForwards.Where(f => f.Enabled));
            if (PassThru) foreach (BypassForward forward in doomed) Emit(forward);
        }

        private void RemoveAll(RouterTarget router, ForwardApplier applier)
        {
            // -WhatIf and -Confirm name every forward that would go, from both backends.
            IEnumerable<BypassForward> all = applier.ReadState().Forwards;
            RouterState other = applier.ReadOtherState();
            if (other != null) all = all.Concat(other.Forwards);
            string list = string.Join("\n", all.Select(f => "  remove   " + f));
            if (list.Length == 0) list = "  (no forwards)";
            if (!Confirm($"{router.Name}: every BypassNat forward, its chains or table, and anything -Persist installed\n{list}\n", "Remove")) return;
            IReadOnlyList<BypassForward> removed = applier.RemoveAll();
            RecentForwards.Remember(router.Name, new BypassForward[0]);
            Verbose($"Removed {removed.Count} forward(s) and BypassNat's rules from {router.Name}.");
            if (PassThru) foreach (BypassForward forward in removed) Emit(forward);
        }

        private void RemoveNamed(RouterTarget router, ForwardApplier applier)
        {
            bool confirm = MyInvocation.BoundParameters.ContainsKey(nameof(ConfirmTimeout));
            if (confirm) applier.CheckConfirmable();
            if (applier.Choice.Backend is IKuaiBackend ikuai)
            {
                RemoveNamedMappings(router, ikuai);
                return;
            }

            // With their IPv6 part, and the IPv6-only forwards: what is written back keeps every other forward's IPv6 rules.
            List<BypassForward> all = applier.ReadAll();
            List<BypassForward> doomed = SelectByName(router, all,
                _patterns.TryGetValue(router.Key, out List<string> names) ? names.Distinct(System.StringComparer.OrdinalIgnoreCase).ToList() : new List<string>());
            if (doomed.Count == 0) return;

            List<BypassForward> remaining = all.Except(doomed).ToList();
            ApplyPlan plan = applier.Plan(remaining);
            string change = plan.Describe();
            if (confirm) change += $"\n  confirm  start a watchdog on the router first that restores the removed forwards after {ConfirmTimeout} s, unless a new SSH connection confirms the change";
            if (!Confirm($"{router.Name} ({applier.Choice.Backend.Kind})\n{change}\n", "Remove forwards")) return;
            if (confirm) applier.ApplyConfirmed(plan, false, ConfirmTimeout, s => RouterSession.Open(s, StopToken), Warn, Verbose, StopToken);
            else applier.Apply(plan, persist: false, Warn);
            RecentForwards.Remember(router.Name, remaining.Where(f => f.Enabled));
            if (PassThru) foreach (BypassForward forward in doomed) Emit(forward);
        }
    }
}
