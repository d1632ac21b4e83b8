namespace BypassNat.Backends
{
    public enum BackendKind
    {
        /// <summary>Detect: nftables where the router has a working nft, iptables otherwise (UCI redirects on an OpenWrt main router).</summary>
        Auto,
        Nftables,
        Iptables,

        /// <summary>The main router's forwards as UCI redirect sections that firewall4 renders (OpenWrt, -Role Main only).</summary>
        Uci,

        /// <summary>An iKuai main router's port mappings through its web API (-Role Main only; no SSH).</summary>
        IKuai,
    }
}
