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

        public static bool TryParse(string text, out Ipv4Prefix prefix)
        {
            prefix = default;
            string[] parts = (text ?? string.Empty).Trim().Split('/');
            if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out IPAddress address) || address.AddressFamily != AddressFamily.InterNetwork
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int length) || length > 32)
                return false;
            prefix = new Ipv4Prefix(address, length);
            return true;
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
