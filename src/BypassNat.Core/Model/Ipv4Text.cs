using System.Globalization;
using System.Net;

namespace BypassNat
{
    /// <summary>What is wrong with an IPv4 address or prefix as written; each use words it for its field.</summary>
    public enum Ipv4TextProblem
    {
        None,

        /// <summary>Not four decimal numbers 0-255 separated by dots.</summary>
        Address,

        /// <summary>A number written with a leading zero ("010"): octal to some tools, decimal to others.</summary>
        LeadingZero,

        /// <summary>Something after the '/' that is not a length 0-32.</summary>
        Length,

        /// <summary>The address has bits set beyond the length ("192.0.2.9/24"); the prefix read is its network.</summary>
        HostBits,
    }

    /// <summary>
    /// The one reader of IPv4 addresses and prefixes as a person or a router writes them, strictly:
    /// four decimal numbers 0-255 and nothing else, then optionally '/' and a length 0-32; an address
    /// alone is one address (/32). IPAddress.TryParse also takes "10" or "10.1" as shorthand and reads
    /// "010" as octal 8: a forward, an AllowedSource entry and a -LanPrefix are never read that way.
    /// </summary>
    public static class Ipv4Text
    {
        public const string LeadingZeroReason = "a number with a leading zero (such as 010) is octal to some tools and decimal to others: write it without the zero";

        /// <summary>Reads one address; <see cref="Ipv4TextProblem.Address"/> or <see cref="Ipv4TextProblem.LeadingZero"/> when it is not one.</summary>
        public static Ipv4TextProblem ReadAddress(string text, out IPAddress address)
        {
            address = null;
            var bytes = new byte[4];
            int part = 0, value = 0, digits = 0;
            bool leadingZero = false;
            for (int i = 0; i <= text.Length; i++)
            {
                char c = i < text.Length ? text[i] : '.';
                if (c == '.')
                {
                    if (digits == 0 || part == 4) return Ipv4TextProblem.Address;
                    bytes[part++] = (byte)value;
                    value = digits = 0;
                }
                else if (c >= '0' && c <= '9')
                {
                    if (digits == 1 && value == 0) leadingZero = true;
                    value = value * 10 + (c - '0');
                    if (++digits > 3 || value > 255) return Ipv4TextProblem.Address;
                }
                else
                {
                    return Ipv4TextProblem.Address;
                }
            }

            if (part != 4) return Ipv4TextProblem.Address;
            if (leadingZero) return Ipv4TextProblem.LeadingZero;
            address = new IPAddress(bytes);
            return Ipv4TextProblem.None;
        }

        /// <summary>
        /// Reads an address with an optional "/length" (none: /32). With <see cref="Ipv4TextProblem.HostBits"/>
        /// <paramref name="prefix"/> is still set, to the address's network, and <paramref name="address"/>
        /// is the address as written, so a use may take the network (an interface's address and length) or
        /// refuse it.
        /// </summary>
        public static Ipv4TextProblem ReadPrefix(string text, out Ipv4Prefix prefix, out IPAddress address)
        {
            prefix = default;
            address = null;
            text = text ?? string.Empty;
            int slash = text.IndexOf('/');
            int length = 32;
            if (slash >= 0)
            {
                string lengthText = text.Substring(slash + 1);
                if (lengthText.Length == 0 || lengthText.Length > 2 || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > 32)
                    return Ipv4TextProblem.Length;
            }

            Ipv4TextProblem problem = ReadAddress(slash < 0 ? text : text.Substring(0, slash), out address);
            if (problem != Ipv4TextProblem.None) return problem;
            prefix = new Ipv4Prefix(address, length);
            return prefix.Network.Equals(address) ? Ipv4TextProblem.None : Ipv4TextProblem.HostBits;
        }
    }
}
