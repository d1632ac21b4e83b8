
namespace BypassNat.Backends
{
    /// <summary>What a main-hop reader found: the forwards, and whether the hooks are there and take WAN traffic.</summary>
    public class MainState : RouterState
    {
        public bool Exists { get; set; }
        public bool PreroutingHooked { get; set; }
        public bool PostroutingHooked { get; set; }

        /// <summary>The WAN interface the rules match on, as read; null when none could be read.</summary>
        public string WanInterface { get; set; }

        /// <summary>The interface the rules should match on; a different one read back is a repair.</summary>
        public string ExpectedWanInterface { get; set; }

        private bool WanMatches => ExpectedWanInterface == null || Forwards.Count == 0 || ExpectedWanInterface == WanInterface;

        public override bool Present => Exists;
        public override bool InPlace => Exists && PreroutingHooked && PostroutingHooked && WanMatches;

        public override string Repair =>
            InPlace ? null
            : !Exists ? "create the main router's rules (" + MainTable.Qualified + " / " + MainTable.IptablesPrerouting + ")"
            : !WanMatches ? $"move the forwards from interface {WanInterface ?? "(unknown)"} to the WAN interface {ExpectedWanInterface}"
            : "repair the hooks of the main router's rules";
    }
}
