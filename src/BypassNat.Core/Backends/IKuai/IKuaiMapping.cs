using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat.Backends.IKuai
{
    /// <summary>
    /// One port mapping (端口映射, the API's <c>dnat</c>) as the router holds it, in the API's own
    /// terms: text fields, whatever JSON type the version sent them as. Ours carry BypassNat's tag in
    /// their comment (<see cref="RuleComment"/>); every other mapping is the user's.
    /// </summary>
    public sealed class IKuaiMapping
    {
        /// <summary>The router's id for the row, as text (3.x sends numbers, some 4.x firmware strings); null before it is added.</summary>
        public string Id { get; set; }
        public bool Enabled { get; set; } = true;
        public string Comment { get; set; } = string.Empty;

        /// <summary>The WAN the mapping listens on: "all", or a line's name such as "adsl1".</summary>
        public string Interface { get; set; } = "all";
        public string LanAddress { get; set; } = string.Empty;

        /// <summary>"tcp", "udp" or "tcp+udp".</summary>
        public string Protocol { get; set; } = "tcp";
        public string WanPort { get; set; } = string.Empty;
        public string LanPort { get; set; } = string.Empty;

        /// <summary>The sources allowed, as the router lists them (addresses, prefixes); empty for every source.</summary>
        public IReadOnlyList<string> Sources { get; set; } = new string[0];

        /// <summary>4.x's short label; BypassNat writes the forward's name.</summary>
        public string TagName { get; set; } = string.Empty;

        public bool IsOurs => Comment != null && Comment.StartsWith(RuleComment.Prefix, StringComparison.Ordinal);

        public IKuaiMapping Copy() => (IKuaiMapping)MemberwiseClone();

        /// <summary>The fields an apply sets, for comparing what is there with what should be (the id and 4.x's label aside).</summary>
        public bool SameAs(IKuaiMapping other) =>
            Enabled == other.Enabled && Comment == other.Comment && Interface == other.Interface && LanAddress == other.LanAddress &&
            Protocol == other.Protocol && WanPort == other.WanPort && LanPort == other.LanPort && Sources.SequenceEqual(other.Sources);

        public string Describe() =>
            $"{(Enabled ? "" : "(disabled) ")}{Protocol} {Interface}:{WanPort} -> {LanAddress}:{LanPort}" +
            (Sources.Count > 0 ? $" from {string.Join(",", Sources)}" : "") + $" \"{Comment}\"" + (Id != null ? $" (id {Id})" : "");

        /// <summary>The protocols as BypassNat names them; null for anything else.</summary>
        public static string ProtocolText(ForwardProtocol protocol) =>
            protocol == ForwardProtocol.Tcp ? "tcp" : protocol == ForwardProtocol.Udp ? "udp" : "tcp+udp";

        /// <summary>The main router's half of a forward as a mapping on <paramref name="wanInterface"/>.</summary>
        public static IKuaiMapping From(BypassForward forward, string wanInterface) => new IKuaiMapping
        {
            Enabled = forward.Enabled,
            Comment = RuleComment.For(forward).Encode(),
            Interface = wanInterface ?? "all",
            LanAddress = forward.BypassAddress.ToString(),
            Protocol = ProtocolText(forward.Protocol),
            WanPort = forward.ExternalPort.ToString(),
            LanPort = forward.BypassPort.ToString(),
            Sources = forward.AllowedSource.Select(SourceSet.Show).ToList(),
            TagName = forward.Name,
        };

        /// <summary>
        /// The forward one of our mappings holds, in the main hop's shape (<see cref="Project"/>); null
        /// with <paramref name="problem"/> when the row is ours but not as BypassNat writes it (edited
        /// in the web UI, or by firmware that changed a field's form): the next apply writes it afresh.
        /// </summary>
        public BypassForward ToForward(out string problem)
        {
            problem = null;
            RuleComment tag = RuleComment.TryDecode(Comment);
            if (tag == null) return Fail(out problem, "its comment is not one BypassNat writes");
            ForwardProtocol protocol;
            switch (Protocol)
            {
                case "tcp": protocol = ForwardProtocol.Tcp; break;
                case "udp": protocol = ForwardProtocol.Udp; break;
                case "tcp+udp": protocol = ForwardProtocol.TcpUdp; break;
                default: return Fail(out problem, $"protocol '{Protocol}'");
            }

            if (!PortRange.TryParse(WanPort, out PortRange wan, out _)) return Fail(out problem, $"WAN port '{WanPort}'");
            if (wan != tag.ExternalPort) return Fail(out problem, $"WAN port {WanPort} where its tag says {tag.ExternalPort}");
            if (!PortRange.TryParse(LanPort, out PortRange lan, out _) || lan.Count != wan.Count) return Fail(out problem, $"LAN port '{LanPort}'");
            if (!IPAddress.TryParse(LanAddress, out IPAddress address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                return Fail(out problem, $"LAN address '{LanAddress}'");
            var prefixes = new List<Ipv4Prefix>();
            foreach (string source in Sources)
            {
                if (!Ipv4Prefix.TryParse(source.Contains("/") ? source : source + "/32", out Ipv4Prefix prefix)) return Fail(out problem, $"source '{source}'");
                prefixes.Add(prefix);
            }

            SourceSet sources = SourceSet.FromRouter(prefixes);
            if (sources == null) return Fail(out problem, $"sources '{string.Join(",", Sources)}'");
            return Project(new BypassForward(tag.Name, protocol, wan, address, lan, address, lan, false, tag.Comment, Enabled, null, sources));

            BypassForward Fail(out string why, string what)
            {
                why = $"mapping {Id} ({Describe()}) is tagged as BypassNat's but holds {what}";
                return null;
            }
        }

        /// <summary>
        /// A forward as the iKuai main router can hold it: the main hop's view (the bypass router is its
        /// LAN side), without a public address (hairpin is the router's own setting, not a mapping's).
        /// </summary>
        public static BypassForward Project(BypassForward forward) => new BypassForward(
            forward.Name, forward.Protocol, forward.ExternalPort, forward.BypassAddress, forward.BypassPort,
            forward.BypassAddress, forward.BypassPort, false, forward.Comment, forward.Enabled, null, forward.AllowedSource);

        /// <summary>Whether two mappings could take the same packets: same WAN side, a shared protocol, overlapping ports.</summary>
        public bool Overlaps(IKuaiMapping other)
        {
            if (!PortRange.TryParse(WanPort, out PortRange mine, out _) || !PortRange.TryParse(other.WanPort, out PortRange theirs, out _))
                return WanPort == other.WanPort;
            bool sameWan = Interface == "all" || other.Interface == "all" || Interface == other.Interface;
            bool sharedProtocol = Protocol == other.Protocol || Protocol == "tcp+udp" || other.Protocol == "tcp+udp";
            return sameWan && sharedProtocol && mine.Overlaps(theirs);
        }
    }
}
