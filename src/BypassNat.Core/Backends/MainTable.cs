namespace BypassNat.Backends
{
    /// <summary>
    /// The names the main router's hop owns: a table and two chains distinct from the bypass hop's, so
    /// one box can hold both halves and neither reading sees the other's rules.
    /// </summary>
    public static class MainTable
    {
        public const string Name = "bypassnat_main";
        public const string Qualified = "ip " + Name;
        public const string ForwardsMap = "forwards";
        public const string PublicMap = "public";

        // Port ranges kept as they are (external ports = the bypass router's ports): one interval
        // element a protocol, not one element a port, so a 60,000-port range stays small.
        public const string ForwardRangesMap = "forward_ranges";
        public const string PublicRangesMap = "public_ranges";
        public const string ReflectRangesSet = "reflect_ranges";
        public const string LansSet = "lans";
        public const string ReflectSet = "reflect";
        public const string NotesSet = "notes"; // the bypass table's name for the same set (NftablesTable.NotesSet)
        public const string IptablesPrerouting = "BYPASSNAT_MAIN_PREROUTING";
        public const string IptablesPostrouting = "BYPASSNAT_MAIN_POSTROUTING";
    }
}
