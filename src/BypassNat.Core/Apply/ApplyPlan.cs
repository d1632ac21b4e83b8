using System.Collections.Generic;
using BypassNat.Backends;
using BypassNat.Proxy;
using BypassNat.Backends.Iptables;

namespace BypassNat.Apply
{
    /// <summary>The router's state as read, and what an apply of the desired set would change.</summary>
    public sealed class ApplyPlan
    {
        public ApplyPlan(IReadOnlyList<BypassForward> desired, RenderContext context, RouterState state, RouterState leftover)
        {
            Desired = desired;
            Context = context;
            State = state;
            Leftover = leftover != null && leftover.Present ? leftover : null;
            Diff = RulesetDiff.Compute(desired, state.Forwards);
        }

        public IReadOnlyList<BypassForward> Desired { get; }

        /// <summary>The router's LANs, for the rules that source-NAT clients on a device's own LAN.</summary>
        public RenderContext Context { get; }
        public RouterState State { get; }

        /// <summary>BypassNat's rules in the other backend, from before a switch; removed after the apply.</summary>
        public RouterState Leftover { get; }

        public RulesetDiff Diff { get; }

        /// <summary>The exemption of the forwards' replies from a TPROXY proxy (the bypass hop's survey); null when not known.</summary>
        public ProxyExemption Exemption { get; set; }

        /// <summary>The hop's IPv6 rules (InternalIPv6: the main router's pinholes, the bypass router's reply exemption); null when not known.</summary>
        public Ipv6Pinholes Ipv6 { get; set; }

        /// <summary>
        /// A write is needed for a forward difference, and also when the proxy's flush removed the
        /// hooks, someone edited BypassNat's rules by hand, or the other backend still holds rules.
        /// </summary>
        public bool NeedsWrite => !Diff.IsEmpty || !State.InPlace || State.Problems.Count > 0 || Leftover != null ||
            (Exemption != null && Exemption.NeedsWrite) || (Ipv6 != null && Ipv6.NeedsWrite);

        public string Describe()
        {
            string text = Diff.Describe();
            if (State.Repair != null) text += "\n  repair   " + State.Repair;
            if (State.Problems.Count > 0) text += $"\n  replace  {State.Problems.Count} rule(s) in BypassNat's own rules that it did not write";
            if (Exemption != null && Exemption.NeedsWrite) text += "\n" + Exemption.Describe();
            if (Ipv6 != null && Ipv6.NeedsWrite) text += "\n" + Ipv6.Describe();
            if (Leftover != null) text += $"\n  remove   BypassNat's rules left in the other backend ({Leftover.Forwards.Count} forward(s), moved here)";
            return text;
        }
    }
}
