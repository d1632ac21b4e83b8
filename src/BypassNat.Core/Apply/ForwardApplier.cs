using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using BypassNat.Iptables;
using BypassNat.Ssh;

namespace BypassNat.Apply
{
    /// <summary>
    /// Makes a router hold exactly the desired forwards: read, compare, write only if something
    /// differs, then read back and fail loudly if the router does not hold what was written.
    /// </summary>
    public sealed class ForwardApplier
    {
        private readonly RouterSession _session;
        private readonly IptablesBackend _backend = new IptablesBackend();

        public ForwardApplier(RouterSession session) => _session = session;

        public ApplyPlan Plan(IReadOnlyList<BypassForward> desired) => new ApplyPlan(desired, _backend.Read(_session));

        public IReadOnlyList<BypassForward> ReadForwards() => _backend.Read(_session).Forwards;

        public ApplyResult Apply(ApplyPlan plan, Action<string> warn)
        {
            var clock = Stopwatch.StartNew();
            var result = new ApplyResult
            {
                ComputerName = _session.Settings.ComputerName,
                Backend = IptablesBackend.Name,
                Unchanged = Names(plan.Diff.Unchanged),
            };
            if (!plan.NeedsWrite)
            {
                result.Duration = clock.Elapsed;
                return result;
            }

            result.ConntrackEntriesDeleted = _backend.Write(_session, plan.Desired, plan.State.Jumps, plan.Diff.Touched(), out IReadOnlyList<string> warnings);
            foreach (string warning in warnings) warn(warning);
            Verify(plan.Desired);

            result.Changed = true;
            result.Added = Names(plan.Diff.Added);
            result.Modified = Names(plan.Diff.Changed.Select(c => c.Desired));
            result.Removed = Names(plan.Diff.Removed);
            result.Duration = clock.Elapsed;
            return result;
        }

        private void Verify(IReadOnlyList<BypassForward> desired)
        {
            IptablesState after = _backend.Read(_session);
            RulesetDiff left = RulesetDiff.Compute(desired, after.Forwards);
            if (left.IsEmpty && after.Problems.Count == 0 && after.Jumps.InPlace) return;
            string detail = left.Describe();
            if (after.Problems.Count > 0) detail += "\n  unreadable rules:\n    " + string.Join("\n    ", after.Problems);
            if (!after.Jumps.InPlace) detail += "\n  the jumps from nat PREROUTING/POSTROUTING are missing or not first";
            throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                $"The rules read back from {_session.Settings.Endpoint} differ from what was applied; another program may be changing the nat table at the same time. Run the apply again, and if this repeats, compare with Get-BypassForward.\n{detail}",
                _session.Settings.Endpoint);
        }

        private static string[] Names(IEnumerable<BypassForward> forwards) => forwards.Select(f => f.Name).ToArray();
    }
}
