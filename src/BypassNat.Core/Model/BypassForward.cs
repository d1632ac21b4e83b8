using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat
{
    /// <summary>
    /// One port forward through the bypass router: the main router sends ExternalPort to
    /// BypassAddress:BypassPort, and the bypass router sends that on to InternalAddress:InternalPort.
    /// Instances are made valid by <see cref="ForwardParser"/>; the constructor trusts its caller.
    /// Not sealed only so the module can add where a forward was read (its RouterForward).
    /// </summary>
    public class BypassForward
    {
        public BypassForward(
            string name,
            ForwardProtocol protocol,
            PortRange externalPort,
            IPAddress bypassAddress,
            PortRange bypassPort,
            IPAddress internalAddress,
            PortRange internalPort,
            bool sourceNat = false,
            string comment = "",
            bool enabled = true,
            IPAddress publicAddress = null,
            SourceSet allowedSource = null,
            Ipv6Host internalIPv6 = null,
            Ipv6SourceSet allowedSourceIPv6 = null)
        {
            Name = name ?? throw new ArgumentNullException(nameof(name));
            Protocol = protocol;
            ExternalPort = externalPort;
            BypassAddress = bypassAddress ?? throw new ArgumentNullException(nameof(bypassAddress));
            BypassPort = bypassPort;
            // An IPv6-only forward (InternalIPv6 without InternalAddress) has no IPv4 half.
            InternalAddress = internalAddress ?? (internalIPv6 != null ? null : throw new ArgumentNullException(nameof(internalAddress)));
            InternalPort = internalPort;
            SourceNat = sourceNat;
            Comment = comment ?? string.Empty;
            Enabled = enabled;
            PublicAddress = publicAddress;
            AllowedSource = allowedSource ?? SourceSet.Any;
            InternalIPv6 = internalIPv6;
            AllowedSourceIPv6 = allowedSourceIPv6 ?? Ipv6SourceSet.Any;
        }

        /// <summary>A copy of <paramref name="other"/>, for a subclass that adds to it.</summary>
        protected BypassForward(BypassForward other)
            : this(other.Name, other.Protocol, other.ExternalPort, other.BypassAddress, other.BypassPort, other.InternalAddress, other.InternalPort,
                other.SourceNat, other.Comment, other.Enabled, other.PublicAddress, other.AllowedSource, other.InternalIPv6, other.AllowedSourceIPv6)
        {
        }

        public string Name { get; }
        public ForwardProtocol Protocol { get; }
        public PortRange ExternalPort { get; }
        public IPAddress BypassAddress { get; }
        public PortRange BypassPort { get; }
        /// <summary>The device's IPv4 address; null for an IPv6-only forward (InternalIPv6 only).</summary>
        public IPAddress InternalAddress { get; }

        /// <summary>
        /// Whether the forward has an IPv4 half (InternalAddress): the nat rules, the IPv4 proxy exemption and
        /// the IPv4 plan entries are for these only; an IPv6-only forward lives in the IPv6 rules alone.
        /// Internal: a public property would become a column of Export-Csv, which writes the CSV columns only.
        /// </summary>
        internal bool HasIpv4 => InternalAddress != null;
        public PortRange InternalPort { get; }
        public bool SourceNat { get; }
        public string Comment { get; }
        public bool Enabled { get; }

        /// <summary>
        /// The network's public (WAN) address, for LAN clients that reach the service at it (hairpin);
        /// null when LAN clients do not need to.
        /// </summary>
        public IPAddress PublicAddress { get; }

        /// <summary>
        /// The clients this forward admits; <see cref="SourceSet.Any"/> (empty) for every client. Others
        /// are not forwarded: both hops' DNAT matches only these sources.
        /// </summary>
        public SourceSet AllowedSource { get; }

        /// <summary>
        /// The device's IPv6 address (an interface identifier such as ::20, or a full address); null when
        /// the forward is IPv4 only. IPv6 has no NAT here: the main router's firewall lets ExternalPort in
        /// to the device (which must then equal InternalPort) and the bypass router exempts the replies.
        /// </summary>
        public Ipv6Host InternalIPv6 { get; }

        /// <summary>The IPv6 clients the IPv6 pinhole admits; empty for every client.</summary>
        public Ipv6SourceSet AllowedSourceIPv6 { get; }

        /// <summary>The lower-case protocol names the kernel tools use, one per rule.</summary>
        internal IEnumerable<string> Transports
        {
            get
            {
                if (Protocol != ForwardProtocol.Udp) yield return "tcp";
                if (Protocol != ForwardProtocol.Tcp) yield return "udp";
            }
        }

        public bool Carries(string transport) =>
            string.Equals(transport, "tcp", StringComparison.OrdinalIgnoreCase)
                ? Protocol != ForwardProtocol.Udp
                : Protocol != ForwardProtocol.Tcp;

        public BypassForward WithComment(string comment) => new BypassForward(
            Name, Protocol, ExternalPort, BypassAddress, BypassPort, InternalAddress, InternalPort, SourceNat, comment, Enabled, PublicAddress, AllowedSource, InternalIPv6, AllowedSourceIPv6);

        /// <summary>
        /// The order rules are rendered in: by bypass address, bypass port, then name. The same set
        /// then always renders the same text, whatever order it came in (a saved set written back
        /// from what the router listed is byte for byte the one written from the CSV).
        /// </summary>
        public static IEnumerable<BypassForward> InRouterOrder(IEnumerable<BypassForward> forwards) =>
            forwards.OrderBy(f => (uint)IPAddress.NetworkToHostOrder(BitConverter.ToInt32(f.BypassAddress.GetAddressBytes(), 0)))
                .ThenBy(f => f.BypassPort.Start).ThenBy(f => f.Name, StringComparer.Ordinal);

        public BypassForward WithPublicAddress(IPAddress publicAddress) => new BypassForward(
            Name, Protocol, ExternalPort, BypassAddress, BypassPort, InternalAddress, InternalPort, SourceNat, Comment, Enabled, publicAddress, AllowedSource, InternalIPv6, AllowedSourceIPv6);

        public BypassForward WithAllowedSource(SourceSet allowedSource) => new BypassForward(
            Name, Protocol, ExternalPort, BypassAddress, BypassPort, InternalAddress, InternalPort, SourceNat, Comment, Enabled, PublicAddress, allowedSource, InternalIPv6, AllowedSourceIPv6);

        /// <summary>The same forward with its IPv6 part (as read back from the IPv6 rules, which the nat rules do not show).</summary>
        public BypassForward WithIpv6(Ipv6Host internalIPv6, Ipv6SourceSet allowedSourceIPv6) => new BypassForward(
            Name, Protocol, ExternalPort, BypassAddress, BypassPort, InternalAddress, InternalPort, SourceNat, Comment, Enabled, PublicAddress, AllowedSource, internalIPv6, allowedSourceIPv6);

        /// <summary>
        /// The names of the fields in which this forward and <paramref name="other"/> differ.
        /// Empty means the router needs no change for it. The IPv6 fields are among them only with
        /// <paramref name="ipv6"/> (a backend whose read-back carries them, OpenWrt's UCI); elsewhere they live
        /// in the IPv6 firewall rules, which <see cref="Ipv6.Ipv6Pinholes"/> compares on their own.
        /// </summary>
        public IReadOnlyList<string> DifferingFields(BypassForward other, bool ipv6 = false)
        {
            var fields = new List<string>();
            if (!string.Equals(Name, other.Name, StringComparison.Ordinal)) fields.Add(nameof(Name));
            if (Protocol != other.Protocol) fields.Add(nameof(Protocol));
            if (ExternalPort != other.ExternalPort) fields.Add(nameof(ExternalPort));
            if (!BypassAddress.Equals(other.BypassAddress)) fields.Add(nameof(BypassAddress));
            if (BypassPort != other.BypassPort) fields.Add(nameof(BypassPort));
            if (!Equals(InternalAddress, other.InternalAddress)) fields.Add(nameof(InternalAddress));
            if (InternalPort != other.InternalPort) fields.Add(nameof(InternalPort));
            if (SourceNat != other.SourceNat) fields.Add(nameof(SourceNat));
            if (!string.Equals(Comment, other.Comment, StringComparison.Ordinal)) fields.Add(nameof(Comment));
            if (Enabled != other.Enabled) fields.Add(nameof(Enabled));
            if (!Equals(PublicAddress, other.PublicAddress)) fields.Add(nameof(PublicAddress));
            if (!AllowedSource.Equals(other.AllowedSource)) fields.Add(nameof(AllowedSource));
            if (ipv6 && !Equals(InternalIPv6, other.InternalIPv6)) fields.Add(nameof(InternalIPv6));
            if (ipv6 && !AllowedSourceIPv6.SequenceEqual(other.AllowedSourceIPv6)) fields.Add(nameof(AllowedSourceIPv6));
            return fields;
        }

        public override string ToString() =>
            HasIpv4 ? $"{Name} {Protocol} {ExternalPort} -> {BypassAddress}:{BypassPort} -> {InternalAddress}:{InternalPort}"
                : $"{Name} {Protocol} {ExternalPort} -> IPv6 {InternalIPv6} (gateway {BypassAddress})";
    }
}
