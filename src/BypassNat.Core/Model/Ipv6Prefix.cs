using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace BypassNat
{
    /// <summary>An IPv6 client network such as 2001:db8:100::/48 (an AllowedSource entry for an IPv6 forward).</summary>
    public readonly struct Ipv6Prefix : IEquatable<Ipv6Prefix>
    {
        private Ipv6Prefix(IPAddress network, int length)
        {
            Network = network;
            Length = length;
        }

        public IPAddress Network { get; }
        public int Length { get; }

        /// <summary>Why an AllowedSource entry is not an IPv6 client address or prefix, or null and the prefix.</summary>
        public static string Problem(string entry, out Ipv6Prefix prefix)
        {
            prefix = default;
            const string Form = "an IPv6 entry is an address (2001:db8:100::7) or a prefix (2001:db8:100::/48)";
            int slash = entry.IndexOf('/');
            string addressText = slash < 0 ? entry : entry.Substring(0, slash);
            int length = 128;
            if (slash >= 0 && (!int.TryParse(entry.Substring(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > 128))
                return "an IPv6 prefix length is a number from 1 to 128 after the '/'";
            if (addressText.IndexOf('%') >= 0 || !IPAddress.TryParse(addressText, out IPAddress address) || address.AddressFamily != AddressFamily.InterNetworkV6)
                return Form;
            if (length == 0) return "::/0 admits every client: leave AllowedSource without IPv6 entries for that";
            byte[] bytes = address.GetAddressBytes();
            for (int bit = length; bit < 128; bit++)
                if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
                    return $"the address has bits set beyond the /{length} prefix: write the network, or the one address with /128";
            if (bytes[0] == 0xff) return "a multicast address is never a client's source address";
            prefix = new Ipv6Prefix(address, length);
            return null;
        }

        /// <summary>As a user writes it and as ip6tables and nft take it: a single address without /128.</summary>
        public override string ToString() => Length == 128 ? Network.ToString() : $"{Network}/{Length}";

        public bool Equals(Ipv6Prefix other) => Length == other.Length && Equals(Network, other.Network);
        public override bool Equals(object obj) => obj is Ipv6Prefix other && Equals(other);
        public override int GetHashCode() => (Network?.GetHashCode() ?? 0) ^ Length;
    }
}
