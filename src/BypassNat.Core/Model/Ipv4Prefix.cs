using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace BypassNat
{
    /// <summary>An IPv4 network such as 192.0.2.0/24: a router's connected LAN.</summary>
    public readonly struct Ipv4Prefix : IEquatable<Ipv4Prefix>
    {
        private readonly uint _network;

        public Ipv4Prefix(IPAddress address, int length)
        {
            if (address == null || address.AddressFamily != AddressFamily.InterNetwork) throw new ArgumentException("An IPv4 address is required.", nameof(address));
            if (length < 0 || length > 32) throw new ArgumentOutOfRangeException(nameof(length));
            Length = length;
            _network = ToUInt(address) & Mask(length);
        }

        public int Length { get; }
        public IPAddress Network => FromUInt(_network);

        public bool Contains(IPAddress address) =>
            address != null && address.AddressFamily == AddressFamily.InterNetwork && (ToUInt(address) & Mask(Length)) == _network;

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

        public override string ToString() => $"{Network}/{Length}";

        public bool Equals(Ipv4Prefix other) => _network == other._network && Length == other.Length;
        public override bool Equals(object obj) => obj is Ipv4Prefix other && Equals(other);
        public override int GetHashCode() => (int)_network ^ Length;

        private static uint Mask(int length) => length == 0 ? 0u : uint.MaxValue << (32 - length);

        internal static uint ToUInt(IPAddress address)
        {
            byte[] b = address.GetAddressBytes();
            return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
        }

        private static IPAddress FromUInt(uint value) =>
            new IPAddress(new[] { (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value });
    }
}
