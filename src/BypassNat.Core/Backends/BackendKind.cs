namespace BypassNat.Backends
{
    public enum BackendKind
    {
        /// <summary>Detect: nftables where the router has a working nft, iptables otherwise.</summary>
        Auto,
        Nftables,
        Iptables,
    }
}
