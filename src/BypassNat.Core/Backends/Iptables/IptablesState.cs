using BypassNat.Backends;

namespace BypassNat.Backends.Iptables
{
    /// <summary>What <see cref="IptablesReader"/> found of BypassNat on a router.</summary>
    public sealed class IptablesState : RouterState
    {
        public bool HasPreroutingChain { get; set; }
        public bool HasPostroutingChain { get; set; }
        public IptablesJumpRepair Jumps { get; } = new IptablesJumpRepair();

        public override bool Present =>
            HasPreroutingChain || HasPostroutingChain || Jumps.PreroutingJumps > 0 || Jumps.PostroutingJumps > 0;

        public override bool InPlace => Jumps.InPlace;

        public override string Repair =>
            Jumps.InPlace ? null : "restore the jumps to BypassNat's chains at the top of nat PREROUTING/POSTROUTING";
    }
}
