using System.Collections.Generic;

namespace BypassNat.Iptables
{
    /// <summary>What <see cref="IptablesReader"/> found of BypassNat on a router.</summary>
    public sealed class IptablesState
    {
        public bool HasChains { get; set; }
        public IptablesJumpRepair Jumps { get; } = new IptablesJumpRepair();
        public List<BypassForward> Forwards { get; } = new List<BypassForward>();

        /// <summary>Rules in BypassNat's chains that it did not write as they are now (edited by hand, or half a forward).</summary>
        public List<string> Problems { get; } = new List<string>();
    }
}
