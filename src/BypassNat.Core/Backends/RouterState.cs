using System.Collections.Generic;

namespace BypassNat.Backends
{
    /// <summary>What one backend found of BypassNat on a router.</summary>
    public abstract class RouterState
    {
        public List<BypassForward> Forwards { get; } = new List<BypassForward>();

        /// <summary>Things in BypassNat's own rules that it did not write as they are now; the next apply replaces them.</summary>
        public List<string> Problems { get; } = new List<string>();

        /// <summary>Anything of BypassNat's is on the router (chains, jumps, table), even if empty.</summary>
        public abstract bool Present { get; }

        /// <summary>BypassNat's rules are hooked in where they take effect, so the forwards read back really work.</summary>
        public abstract bool InPlace { get; }

        /// <summary>What an apply would repair besides the forwards, for -WhatIf; null when nothing.</summary>
        public abstract string Repair { get; }

        /// <summary>
        /// Whether the forwards read carry their IPv6 half (a backend with <see cref="BackendCapabilities.Ipv6Rules"/>),
        /// so InternalIPv6 and AllowedSourceIPv6 are compared with the desired set's.
        /// </summary>
        public virtual bool HoldsIpv6 => false;

        /// <summary>The IPv6 rules a change to <paramref name="desired"/> writes or deletes, for -WhatIf (where <see cref="HoldsIpv6"/>); null when none.</summary>
        public virtual string DescribeIpv6(IEnumerable<BypassForward> desired) => null;

        /// <summary>
        /// Why the router cannot hold <paramref name="desired"/> beside what else it holds (an iKuai
        /// router: a port one of the user's own mappings takes), found while planning, so -WhatIf says
        /// it and an apply refuses before any write; null when it can.
        /// </summary>
        public virtual BypassNatException Refusal(IReadOnlyList<BypassForward> desired) => null;
    }
}
