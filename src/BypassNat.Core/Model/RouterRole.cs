namespace BypassNat
{
    /// <summary>Which half of the double forward a router holds.</summary>
    public enum RouterRole
    {
        /// <summary>The bypass router: BypassAddress:BypassPort to the device.</summary>
        Bypass,
        /// <summary>The main router: ExternalPort arriving on its WAN to BypassAddress:BypassPort.</summary>
        Main,
    }
}
