namespace BypassNat.Backends.Nftables
{
    /// <summary>The one table BypassNat owns; everything else in the ruleset belongs to someone else.</summary>
    public static class NftablesTable
    {
        public const string Family = "ip";
        public const string Name = "bypassnat";
        public const string Qualified = Family + " " + Name;
        public const string ForwardsMap = "forwards";
        public const string RangesMap = "ranges";
        public const string SourceNatMap = "sourcenat";
        public const string SourceNatRangesMap = "sourcenat_ranges";
        public const string LansSet = "lans";
        public const string ReflectMap = "reflect";
        public const string ReflectRangesMap = "reflect_ranges";
        public const string TargetsSet = "targets";
        public const string TargetRangesSet = "target_ranges";
        public const string NotesSet = "notes";
    }
}
