using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat.Backends.Uci
{
    /// <summary>
    /// One forward as a UCI <c>config redirect</c> on an OpenWrt main router: the WAN port to the bypass
    /// router (the main router's half of the double forward). firewall4 renders it, and LuCI shows it
    /// under Port Forwards with the forward's name.
    /// </summary>
    public sealed class UciRedirect : IEquatable<UciRedirect>
    {
        /// <summary>The options BypassNat writes, in the order it writes them. Any other option in a section
        /// of ours (added in LuCI, say) makes the section differ, so the next apply writes it afresh.</summary>
        public static readonly IReadOnlyList<string> OptionNames = new[]
        {
            "name", "target", "src", "src_ip", "dest", "proto", "src_dport", "dest_ip", "dest_port", "reflection", "enabled",
        };

        public UciRedirect(string name, IReadOnlyDictionary<string, string> options)
        {
            Name = name;
            Section = UciSectionName.For(name);
            Options = options;
        }

        /// <summary>The forward's name (the section's <c>name</c> option, which LuCI shows).</summary>
        public string Name { get; }

        public string Section { get; }

        public IReadOnlyDictionary<string, string> Options { get; }

        public bool Enabled => !Options.TryGetValue("enabled", out string enabled) || enabled != "0";

        /// <summary>
        /// The main router's half of <paramref name="forward"/>: ExternalPort on the WAN zone to
        /// BypassAddress:BypassPort in the LAN zone. Reflection (NAT loopback for LAN clients whose
        /// gateway is the main router) is firewall4's own, switched on where the forward has a
        /// public address, as the bypass router's hairpin is.
        /// </summary>
        public static UciRedirect From(BypassForward forward, string wanZone = "wan", string lanZone = "lan")
        {
            var options = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["name"] = forward.Name,
                ["target"] = "DNAT",
                ["src"] = wanZone,
                ["dest"] = lanZone,
                ["proto"] = string.Join(" ", forward.Transports),
                ["src_dport"] = forward.ExternalPort.ToString(),
                ["dest_ip"] = forward.BypassAddress.ToString(),
                ["dest_port"] = forward.BypassPort.ToString(),
                ["reflection"] = forward.PublicAddress != null ? "1" : "0",
                ["enabled"] = forward.Enabled ? "1" : "0",
            };
            if (!forward.AllowedSource.IsAny) options["src_ip"] = SourceIp(forward);
            return new UciRedirect(forward.Name, options);
        }

        /// <summary>
        /// AllowedSource as firewall4 can hold it exactly: a redirect's <c>src_ip</c> is one address or
        /// prefix (a list makes firewall4 skip the section), and its reflection rules for LAN clients
        /// ignore <c>src_ip</c>. Anything else is refused before the router is changed.
        /// </summary>
        private static string SourceIp(BypassForward forward)
        {
            string why = forward.AllowedSource.Count > 1
                ? $"it admits {forward.AllowedSource.Count} entries ({forward.AllowedSource}), and a firewall4 redirect's src_ip holds one address or prefix"
                : forward.PublicAddress != null
                    ? "it has a PublicAddress, and firewall4's reflection (NAT loopback) for LAN clients ignores src_ip, so LAN clients would not be restricted"
                    : null;
            if (why != null)
                throw new BypassNatException("BypassNat.SourceNotUci", FailureKind.InvalidData,
                    $"Forward '{forward.Name}' cannot be a UCI redirect on an OpenWrt main router: {why}. Nothing was changed on the router. " +
                    "Give the forward one AllowedSource entry (a prefix that covers the clients) without a PublicAddress, or apply the main hop with -Backend Nftables.",
                    forward.Name);
            return SourceSet.Show(forward.AllowedSource[0]);
        }

        public bool Equals(UciRedirect other) =>
            other != null && Name == other.Name && Options.Count == other.Options.Count &&
            Options.All(o => other.Options.TryGetValue(o.Key, out string value) && value == o.Value);

        public override bool Equals(object obj) => Equals(obj as UciRedirect);

        public override int GetHashCode() => Name.GetHashCode();

        public override string ToString() =>
            $"{Name} {Get("proto")} {Get("src")}:{Get("src_dport")} -> {Get("dest_ip")}:{Get("dest_port")}";

        private string Get(string option) => Options.TryGetValue(option, out string value) ? value : "?";
    }
}
