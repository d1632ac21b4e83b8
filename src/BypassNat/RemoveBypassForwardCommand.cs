using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Ssh;

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
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "Name")]
        [ArgumentCompleter(typeof(ForwardNameCompleter))]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "All")]
        public SwitchParameter All { get; set; }

        /// <summary>Write the removed forwards to the output.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        private readonly List<string> _patterns = new List<string>();


        protected override void ProcessRecord()
        {
            if (Name != null) _patterns.AddRange(Name);
        }

        protected override void EndProcessing()
        {
            try
            {
                using (RouterSession session = Connect())
                {
                    ForwardApplier applier = Applier(session);
                    if (All) RemoveAll(applier, session);
                    else RemoveNamed(applier);
                }
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }
        }

        private void RemoveAll(ForwardApplier applier, RouterSession session)
        {
            // -WhatIf and -Confirm name every forward that would go, from both backends.
            IEnumerable<BypassForward> all = applier.ReadState().Forwards;
            if (applier.Choice.Other != null) all = all.Concat(applier.Choice.Other.Read(session).Forwards);
            string list = string.Join("\n", all.Select(f => "  remove   " + f));
            if (list.Length == 0) list = "  (no forwards)";
            if (!ShouldProcess($"{ComputerName}: every BypassNat forward, its chains or table, and anything -Persist installed\n{list}\n", "Remove")) return;
            IReadOnlyList<BypassForward> removed = applier.RemoveAll();
            RecentForwards.Remember(ComputerName, new BypassForward[0]);
            WriteVerbose($"Removed {removed.Count} forward(s) and BypassNat's rules from {ComputerName}.");
            if (PassThru) WriteObject(removed, true);
        }

        private void RemoveNamed(ForwardApplier applier)
        {
            RouterState state = applier.ReadState();
            List<BypassForward> doomed = SelectByName(state.Forwards, _patterns);
            if (doomed.Count == 0) return;

            List<BypassForward> remaining = state.Forwards.Except(doomed).ToList();
            ApplyPlan plan = applier.Plan(remaining);
            if (!ShouldProcess($"{ComputerName} ({applier.Choice.Backend.Kind})\n{plan.Describe()}\n", "Remove forwards")) return;
            applier.Apply(plan, persist: false, WriteWarning);
            RecentForwards.Remember(ComputerName, remaining.Where(f => f.Enabled));
            if (PassThru) WriteObject(doomed, true);
        }
    }
}
