using BypassNat.Backends;

namespace BypassNat.Backends.Nftables
{
    /// <summary>What <see cref="NftablesReader"/> found of BypassNat's table.</summary>
    public sealed class NftablesState : RouterState
    {
        public bool TableExists { get; set; }
        public bool PreroutingHooked { get; set; }
        public bool PostroutingHooked { get; set; }

        public override bool Present => TableExists;
        public override bool InPlace => TableExists && PreroutingHooked && PostroutingHooked;

        public override string Repair =>
            InPlace ? null : TableExists ? "repair BypassNat's nat chains in table ip bypassnat" : "create table ip bypassnat";
    }
}
