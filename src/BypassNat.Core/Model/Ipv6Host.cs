using System;
using System.Net;
using System.Net.Sockets;

namespace BypassNat
{
    /// <summary>
    /// A device's IPv6 address as a forward names it (InternalIPv6): an interface identifier such as
    /// <c>::20</c>, the low 64 bits whatever the delegated prefix is (a PPPoE reconnect changes the prefix,
    /// not the identifier), or a full address such as <c>2001:db8:1::20</c>.
    /// </summary>
    /// <remarks>
    /// An identifier is matched with the mask <c>::ffff:ffff:ffff:ffff</c>: ip6tables takes that
    /// non-contiguous mask, nftables writes <c>ip6 daddr &amp; ::ffff:ffff:ffff:ffff == ::20</c>, and OpenWrt's
    /// UCI <c>dest_ip '::20/-64'</c> is the same match (firewall4 renders it so).
    /// </remarks>
    public sealed class Ipv6Host : IEquatable<Ipv6Host>
    {
        public const string IdentifierMask = "::ffff:ffff:ffff:ffff";

        private Ipv6Host(IPAddress address, bool identifier)
        {
            Address = address;
            IsInterfaceIdentifier = identifier;
        }

        /// <summary>The identifier (upper 64 bits zero) or the full address.</summary>
        public IPAddress Address { get; }

        /// <summary>Whether this names the low 64 bits only, under any prefix.</summary>
        public bool IsInterfaceIdentifier { get; }

        /// <summary>The text as iptables' -s/-d takes it: the identifier with its mask, or the address /128.</summary>
        public string IptablesMatch => IsInterfaceIdentifier ? $"{Address}/{IdentifierMask}" : $"{Address}/128";

        /// <summary>The nftables match on <paramref name="field"/> (saddr or daddr).</summary>
        public string NftMatch(string field) => IsInterfaceIdentifier
            ? $"ip6 {field} & {IdentifierMask} == {Address}"
            : $"ip6 {field} {Address}";

        /// <summary>OpenWrt's UCI dest_ip: <c>::20/-64</c> (the identifier under any /64) or the address.</summary>
        public string UciAddress => IsInterfaceIdentifier ? $"{Address}/-64" : Address.ToString();

        /// <summary>Reads an identifier or a full address; null and why not otherwise.</summary>
        public static Ipv6Host Parse(string text, out string problem)
        {
            problem = null;
            string value = (text ?? string.Empty).Trim();
            if (value.IndexOf(':') < 0 || value.IndexOf('%') >= 0 || value.IndexOf('/') >= 0
                || !IPAddress.TryParse(value, out IPAddress address) || address.AddressFamily != AddressFamily.InterNetworkV6)
            {
                problem = "an IPv6 interface identifier such as ::20 (it follows prefix changes) or a full IPv6 address such as 2001:db8:1::20, without a prefix length or zone";
                return null;
            }

            byte[] bytes = address.GetAddressBytes();
            bool upperZero = true, lowerZero = true;
            for (int i = 0; i < 8; i++) upperZero &= bytes[i] == 0;
            for (int i = 8; i < 16; i++) lowerZero &= bytes[i] == 0;
            if (lowerZero)
                problem = upperZero ? "the unspecified address :: names no device" : "the interface identifier (the low 64 bits) is zero: that is a subnet-router anycast address, not a device";
            else if (bytes[0] == 0xff)
                problem = "a multicast address cannot be forwarded to";
            else if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80)
                problem = "a link-local address (fe80::/10) is not reachable from the internet; give the identifier (the part after the prefix, such as ::20)";
            else if (address.IsIPv4MappedToIPv6)
                problem = "an IPv4-mapped address is IPv4: put it in InternalAddress";
            return problem == null ? new Ipv6Host(address, upperZero) : null;
        }

        public override string ToString() => Address.ToString();

        public bool Equals(Ipv6Host other) => other != null && other.IsInterfaceIdentifier == IsInterfaceIdentifier && other.Address.Equals(Address);
        public override bool Equals(object obj) => Equals(obj as Ipv6Host);
        public override int GetHashCode() => Address.GetHashCode();
    }
}
