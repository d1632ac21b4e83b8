using System.Collections.Generic;

namespace BypassNat.Backends.Iptables
{
    /// <summary>What the main hop's iptables reader found beyond <see cref="MainState"/>: the jumps and which chains exist.</summary>
    public sealed class MainIptablesState : MainState
    {
        /// <summary>How the built-in chains jump to BypassNat's main chains.</summary>
        public IptablesJumpRepair Jumps { get; } = new IptablesJumpRepair();

        /// <summary>Which of the main chains exist.</summary>
        public List<string> Chains { get; } = new List<string>();
    }
}
