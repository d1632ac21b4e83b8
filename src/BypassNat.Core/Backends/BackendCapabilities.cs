using System;

namespace BypassNat.Backends
{
    /// <summary>
    /// What a backend can do beyond read, write and remove. The orchestration asks these instead of
    /// the backend's kind, so a backend that lacks one (a router driven over a web API has no shell,
    /// no saved set, no kernel transaction and no watchdog) is refused or skipped in one place.
    /// Every backend reads back after a write: that is not a capability but the contract.
    /// </summary>
    [Flags]
    public enum BackendCapabilities
    {
        None = 0,

        /// <summary>-Persist keeps a saved set and boot/flush hooks on the router (<see cref="IScriptedBackend.RenderSaved"/>).</summary>
        SavedSet = 1,

        /// <summary>The router's own config is persistent (UCI redirects, a web UI's rules): -Persist needs nothing more.</summary>
        PersistsItself = 2,

        /// <summary>-ConfirmTimeout: a watchdog on the router puts back the previous rules unless a new connection confirms the change.</summary>
        CommitConfirmed = 4,

        /// <summary>A write forgets the conntrack entries of the ports it touched.</summary>
        ConntrackCleanup = 8,

        /// <summary>The forwards live between firewall zones, named with -WanZone and -LanZone.</summary>
        Zones = 16,

        /// <summary>
        /// The backend holds the forwards' IPv6 half itself (OpenWrt's traffic rules beside the redirects):
        /// InternalIPv6 and AllowedSourceIPv6 are part of the forwards it reads, writes and compares, and the
        /// ip6tables rules (Ipv6Pinholes) are not written on its router.
        /// </summary>
        Ipv6Rules = 32,
    }
}
