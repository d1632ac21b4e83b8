using System.Collections.Generic;
using System.Linq;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using BypassNat.Backends;
using BypassNat.Backends.Uci;

namespace BypassNat.Registry
{
    /// <summary>
    /// The names one hop of the double forward owns on a router (nftables table, iptables chains, the
    /// files and units of -Persist) and how its rules render. The two hops share nothing, so one box
    /// can be main and bypass router at once, and saving one never overwrites the other.
    /// </summary>
    public sealed class RouterHop
    {
        public static readonly RouterHop Bypass = new RouterHop(RouterRole.Bypass, NftablesTable.Qualified,
            IptablesChains.Prerouting, IptablesChains.Postrouting, "/etc/bypassnat", "bypassnat", "bypassnat", "the bypass router's port forwards");

        public static readonly RouterHop Main = new RouterHop(RouterRole.Main, MainTable.Qualified,
            MainTable.IptablesPrerouting, MainTable.IptablesPostrouting, "/etc/bypassnat-main", "bypassnat-main", UciSectionName.MainHop, "the main router's port forwards");

        private RouterHop(RouterRole role, string nftTable, string prerouting, string postrouting, string directory, string unitName, string uciSection, string description)
        {
            Role = role;
            NftTable = nftTable;
            IptablesPrerouting = prerouting;
            IptablesPostrouting = postrouting;
            Directory = directory;
            UnitName = unitName;
            UciSection = uciSection;
            Description = description;
        }

        public static RouterHop For(RouterRole role) => role == RouterRole.Main ? Main : Bypass;

        public RouterRole Role { get; }

        /// <summary>"ip bypassnat" or "ip bypassnat_main".</summary>
        public string NftTable { get; }
        public string IptablesPrerouting { get; }
        public string IptablesPostrouting { get; }

        /// <summary>Where -Persist keeps this hop's saved set and restore script.</summary>
        public string Directory { get; }

        /// <summary>The base name of this hop's systemd units and OpenWrt include.</summary>
        public string UnitName { get; }
        public string UciSection { get; }
        public string Description { get; }

        /// <summary>The forwards as this hop holds them (the main router's "internal" side is the bypass router).</summary>
        public List<BypassForward> Project(IEnumerable<BypassForward> forwards) =>
            Role == RouterRole.Main ? forwards.Select(MainHop.Project).ToList() : forwards.ToList();
    }
}
