using System;
using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Backends.Uci
{
    /// <summary>
    /// A forward's IPv6 half on an OpenWrt main router: a UCI <c>config rule</c> (a traffic rule, as LuCI
    /// shows it under Network > Firewall > Traffic Rules) that lets the forward's port in from the WAN zone
    /// to the device in the LAN zone. IPv6 has no NAT here, so this is an ACCEPT, not a redirect.
    /// </summary>
    /// <remarks>
    /// The device is matched by interface identifier, <c>dest_ip '::20/-64'</c>, which firewall4 renders as
    /// <c>ip6 daddr &amp; ::ffff:ffff:ffff:ffff == ::20</c>: the rule keeps matching when the delegated prefix
    /// changes. It lives in firewall4's own forward chain (<c>inet fw4</c>, ahead of the WAN zone's reject),
    /// where OpenWrt's IPv6 inbound policy is: an accept in a table of BypassNat's own would not override
    /// firewall4's drop. firewall4 renders it on every reload and at boot, as it does the redirects.
    /// </remarks>
    public sealed class UciRule : IEquatable<UciRule>, IUciSection
    {
        /// <summary>The options BypassNat writes, in the order it writes them. Any other option in a rule of ours makes it differ.</summary>
        public static readonly IReadOnlyList<string> OptionNames = new[]
        {
            "name", "family", "src", "src_ip", "dest", "dest_ip", "proto", "dest_port", "target", "enabled",
        };

        /// <summary>The option written as a UCI list: one entry an allowed IPv6 client (firewall4 takes several).</summary>
        public const string ListOption = "src_ip";

        // firewall4's "match the low 64 bits" form of an address: a negative prefix length.
        private const string IdentifierSuffix = "/-64";

        /// <param name="options">The options as read or rendered; a list's entries separated by single spaces.</param>
        public UciRule(string forwardName, IReadOnlyDictionary<string, string> options)
        {
            ForwardName = forwardName;
            Section = UciSectionName.ForRule(forwardName);
            Options = options;
        }

        /// <summary>The forward's name (the section's <c>name</c> option is <see cref="Label"/> of it).</summary>
        public string ForwardName { get; }

        public string Section { get; }

        public IReadOnlyDictionary<string, string> Options { get; }

        public bool Enabled => !Options.TryGetValue("enabled", out string enabled) || enabled != "0";

        string IUciSection.Type => "rule";

        IReadOnlyList<string> IUciSection.OptionNames => OptionNames;

        bool IUciSection.IsList(string option) => option == ListOption;

        /// <summary>
        /// The name LuCI shows, and firewall4's comment on the rendered rule (<c>!fw4: web (IPv6)</c>): the
        /// forward's name, told apart from its port forward of the same name.
        /// </summary>
        public static string Label(string forwardName) => forwardName + " (IPv6)";

        /// <summary>The rule for <paramref name="forward"/>'s InternalIPv6; null for a forward without one.</summary>
        public static UciRule From(BypassForward forward, string wanZone = "wan", string lanZone = "lan")
        {
            if (forward.InternalIPv6 == null) return null;
            var options = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["name"] = Label(forward.Name),
                ["family"] = "ipv6",
                ["src"] = wanZone,
                ["dest"] = lanZone,
                ["dest_ip"] = forward.InternalIPv6.UciAddress,
                ["proto"] = string.Join(" ", forward.Transports),
                // ExternalPort, which is also the device's port (ForwardParser refuses an IPv6 forward that would
                // translate it), and which the main hop's view of a forward keeps (its InternalPort is the bypass router's).
                ["dest_port"] = forward.ExternalPort.ToString(),
                ["target"] = "ACCEPT",
                ["enabled"] = forward.Enabled ? "1" : "0",
            };
            if (!forward.AllowedSourceIPv6.IsAny) options["src_ip"] = string.Join(" ", forward.AllowedSourceIPv6.Select(p => p.ToString()));
            return new UciRule(forward.Name, options);
        }

        /// <summary>
        /// The device and the allowed clients this rule names, as a forward holds them; false when its
        /// <c>dest_ip</c> or <c>src_ip</c> is not something BypassNat writes.
        /// </summary>
        public bool TryRead(out Ipv6Host host, out Ipv6SourceSet sources)
        {
            host = null;
            sources = Ipv6SourceSet.Any;
            if (!Options.TryGetValue("dest_ip", out string destination)) return false;
            bool identifier = destination.EndsWith(IdentifierSuffix, StringComparison.Ordinal);
            Ipv6Host parsed = Ipv6Host.Parse(identifier ? destination.Substring(0, destination.Length - IdentifierSuffix.Length) : destination, out _);
            // "::20" without the suffix would be the literal address ::20, not the identifier under every prefix.
            if (parsed == null || parsed.IsInterfaceIdentifier != identifier) return false;
            var clients = new List<Ipv6Prefix>();
            if (Options.TryGetValue("src_ip", out string list))
                foreach (string entry in list.Split(' '))
                {
                    if (Ipv6Prefix.Problem(entry, out Ipv6Prefix prefix) != null) return false;
                    clients.Add(prefix);
                }

            host = parsed;
            sources = Ipv6SourceSet.Of(clients);
            return true;
        }

        public bool Equals(UciRule other) =>
            other != null && ForwardName == other.ForwardName && Options.Count == other.Options.Count &&
            Options.All(o => other.Options.TryGetValue(o.Key, out string value) && value == o.Value);

        public override bool Equals(object obj) => Equals(obj as UciRule);

        public override int GetHashCode() => ForwardName.GetHashCode();

        public override string ToString() => $"{Get("name")} {Get("proto")} {Get("src")} -> {Get("dest_ip")} port {Get("dest_port")} {Get("target")}";

        private string Get(string option) => Options.TryGetValue(option, out string value) ? value : "?";
    }
}
