namespace BypassNat.Backends.Iptables
{
    /// <summary>The chains BypassNat owns in the nat table; it never edits any other chain's rules, only adds a jump.</summary>
    public static class IptablesChains
    {
        public const string Prerouting = "BYPASSNAT_PREROUTING";
        public const string Postrouting = "BYPASSNAT_POSTROUTING";
    }
}
