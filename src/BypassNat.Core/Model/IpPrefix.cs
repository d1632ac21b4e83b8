using System;
using System.Net;
using System.Net.Sockets;

namespace BypassNat
{
    /// <summary>
    /// A network of either address family: its address with the bits beyond the length cleared, and the
    /// length. The arithmetic (masking, containment, order) works on the address's bytes, so nothing
    /// here assumes 32 bits; <see cref="Ipv4Prefix"/> is an IPv4 one, and an IPv6 prefix can be one.
    /// </summary>
    public readonly struct IpPrefix : IEquatable<IpPrefix>, IComparable<IpPrefix>
    {
        private readonly byte[] _network;

        public IpPrefix(IPAddress address, int length)
        {
            if (address == null || (address.AddressFamily != AddressFamily.InterNetwork && address.AddressFamily != AddressFamily.InterNetworkV6))
                throw new ArgumentException("An IPv4 or IPv6 address is required.", nameof(address));
            byte[] bytes = address.GetAddressBytes();
            if (length < 0 || length > bytes.Length * 8) throw new ArgumentOutOfRangeException(nameof(length));
            for (int bit = length; bit < bytes.Length * 8; bit++) bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
            _network = bytes;
            Length = length;
        }

        public int Length { get; }

        public AddressFamily Family => _network == null || _network.Length == 4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

        /// <summary>The network's address (a copy: the prefix stays as it was made).</summary>
        public IPAddress Network => new IPAddress(_network ?? new byte[4]);

        /// <summary>Whether <paramref name="address"/>, of the same family, lies in this network.</summary>
        public bool Contains(IPAddress address)
        {
            if (address == null || address.AddressFamily != Family) return false;
            byte[] bytes = address.GetAddressBytes();
            byte[] network = _network ?? new byte[4];
            for (int bit = 0; bit < Length; bit++)
            {
                int mask = 0x80 >> (bit % 8);
                if ((bytes[bit / 8] & mask) != (network[bit / 8] & mask)) return false;
            }

            return true;
        }

        /// <summary>By family (IPv4 first), then address as an unsigned number, then length: a network before the networks inside it.</summary>
        public int CompareTo(IpPrefix other)
        {
            byte[] a = _network ?? new byte[4], b = other._network ?? new byte[4];
            if (a.Length != b.Length) return a.Length.CompareTo(b.Length);
            for (int i = 0; i < a.Length; i++)
                if (a[i] != b[i]) return a[i].CompareTo(b[i]);
            return Length.CompareTo(other.Length);
        }

        public override string ToString() => $"{Network}/{Length}";

        public bool Equals(IpPrefix other) => CompareTo(other) == 0;
        public override bool Equals(object obj) => obj is IpPrefix other && Equals(other);

        public override int GetHashCode()
        {
            int hash = Length;
            foreach (byte b in _network ?? new byte[4]) hash = hash * 31 + b;
            return hash;
        }
    }
}
