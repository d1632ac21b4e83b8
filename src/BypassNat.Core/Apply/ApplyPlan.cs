using System.Collections.Generic;
using BypassNat.Iptables;

namespace BypassNat.Apply
{
    /// <summary>The router's state as read, and what an apply of the desired set would change.</summary>
    public sealed class ApplyPlan
    {
        public ApplyPlan(IReadOnlyList<BypassForward> desired, IptablesState state)
        {
            Desired = desired;
            State = state;
            Diff = RulesetDiff.Compute(desired, state.Forwards);
        }

        public IReadOnlyList<BypassForward> Desired { get; }
        public IptablesState State { get; }
        public RulesetDiff Diff { get; }

        /// <summary>
        /// A write is needed for a forward difference, and also when the proxy's flush removed the
        /// jumps, or someone edited BypassNat's chains by hand.
        /// </summary>
        public bool NeedsWrite => !Diff.IsEmpty || !State.Jumps.InPlace || State.Problems.Count > 0;

        public string Describe()
        {
            string text = Diff.Describe();
            if (!State.Jumps.InPlace) text += "\n  restore  the jumps to BypassNat's chains from nat PREROUTING/POSTROUTING";
            if (State.Problems.Count > 0) text += $"\n  replace  {State.Problems.Count} rule(s) in BypassNat's chains that it did not write";
            return text;
        }
    }
}
