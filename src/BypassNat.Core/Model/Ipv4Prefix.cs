using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace BypassNat
{
    /// <summary>An IPv4 network such as 192.0.2.0/24: a router's connected LAN, an AllowedSource entry.</summary>
    public readonly struct Ipv4Prefix : IEquatable<Ipv4Prefix>
    {
        public Ipv4Prefix(IPAddress address, int length)
        {
            if (address == null || address.AddressFamily != AddressFamily.InterNetwork) throw new ArgumentException("An IPv4 address is required.", nameof(address));
            if (length < 0 || length > 32) throw new ArgumentOutOfRangeException(nameof(length));
            Prefix = new IpPrefix(address, length);
        }

        /// <summary>The same network as a prefix of either family, for what works on both.</summary>
        public IpPrefix Prefix { get; }

        public int Length => Prefix.Length;
        public IPAddress Network => Prefix.Network;

        public bool Contains(IPAddress address) => Prefix.Contains(address);

        /// <summary>
        /// A network as a LAN is named (-LanPrefix, <c>ip addr</c>): "192.0.2.0/24", an address alone for
        /// /32, and an interface's address with its length ("192.0.2.9/24") for its network. Read by
        /// <see cref="Ipv4Text"/>, strictly; <see cref="Why"/> says what is wrong with the text otherwise.
        /// </summary>
        public static bool TryParse(string text, out Ipv4Prefix prefix)
        {
            Ipv4TextProblem problem = Ipv4Text.ReadPrefix((text ?? string.Empty).Trim(), out prefix, out _);
            if (problem == Ipv4TextProblem.None || problem == Ipv4TextProblem.HostBits) return true;
            prefix = default;
            return false;
        }

        /// <summary>Why <see cref="TryParse"/> refuses <paramref name="text"/>, for an error; null when it does not.</summary>
        public static string Why(string text)
        {
            switch (Ipv4Text.ReadPrefix((text ?? string.Empty).Trim(), out _, out _))
            {
                case Ipv4TextProblem.Length: return "a prefix length is a number from 0 to 32 after the '/'";
                case Ipv4TextProblem.LeadingZero: return Ipv4Text.LeadingZeroReason;
                case Ipv4TextProblem.Address: return "an IPv4 address is four numbers 0-255 separated by dots, such as 192.0.2.0";
                default: return null;
            }
        }

        public override string ToString() => Prefix.ToString();

        public bool Equals(Ipv4Prefix other) => Prefix.Equals(other.Prefix);
        public override bool Equals(object obj) => obj is Ipv4Prefix other && Equals(other);
        public override int GetHashCode() => Prefix.GetHashCode();
    }
}
