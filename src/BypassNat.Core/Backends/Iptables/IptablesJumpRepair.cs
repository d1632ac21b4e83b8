namespace BypassNat.Backends.Iptables
{
    /// <summary>What the router's built-in nat chains hold of BypassNat's jumps, so an apply adds or moves only what is needed.</summary>
    public sealed class IptablesJumpRepair
    {
        public int PreroutingJumps { get; set; }
        public bool PreroutingJumpFirst { get; set; }
        public int PostroutingJumps { get; set; }
        public bool PostroutingJumpFirst { get; set; }

        public bool InPlace => PreroutingJumps == 1 && PreroutingJumpFirst && PostroutingJumps == 1 && PostroutingJumpFirst;
    }
}
