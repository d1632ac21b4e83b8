using System;

namespace BypassNat.Apply
{
    /// <summary>What one apply did to one router.</summary>
    public sealed class ApplyResult
    {
        public string ComputerName { get; set; }

        /// <summary>Which half of the double forward the router holds: Bypass or Main.</summary>
        public string Role { get; set; }
        public string Backend { get; set; }

        /// <summary>False when the router already held exactly the desired forwards and nothing was written.</summary>
        public bool Changed { get; set; }

        public string[] Added { get; set; } = new string[0];
        public string[] Modified { get; set; } = new string[0];
        public string[] Removed { get; set; } = new string[0];
        public string[] Unchanged { get; set; } = new string[0];

        /// <summary>Connection-tracking entries deleted for the ports the change touched, so they take the new rules at once.</summary>
        public int ConntrackEntriesDeleted { get; set; }

        /// <summary>The public address(es) LAN clients reach the forwards at (hairpin), or null.</summary>
        public string PublicAddress { get; set; }

        /// <summary>The public address the router had before, when this apply moved the hairpin rules to a new one.</summary>
        public string PreviousPublicAddress { get; set; }

        /// <summary>The backend the forwards were moved from, when this apply switched backend; null otherwise.</summary>
        public string MovedFrom { get; set; }

        /// <summary>How the router keeps the forwards across reboots and flushes (systemd, openwrt, files, updated), or null.</summary>
        public string Persisted { get; set; }

        /// <summary>
        /// A transparent proxy in TPROXY or TUN mode on the router, and whether BypassNat exempts the
        /// forwards' replies from it ("... exempted") or the proxy's configuration must ("... not exempted: ..."); null when none.
        /// </summary>
        public string Proxy { get; set; }

        /// <summary>The hop's IPv6 rules for forwards with InternalIPv6 (pinholes on the main router, the reply exemption on the bypass router); null when none.</summary>
        public string Ipv6 { get; set; }

        public TimeSpan Duration { get; set; }

        /// <summary>
        /// How many commands the apply ran on the router over its SSH connection, reading included:
        /// 1 when nothing changed, 2 for a change (3 when it also moved the forwards between backends).
        /// </summary>
        public int SshCommands { get; set; }
    }
}
