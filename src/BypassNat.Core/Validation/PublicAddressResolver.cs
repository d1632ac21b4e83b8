using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;

namespace BypassNat.Validation
{
    /// <summary>
    /// Turns -PublicAddress into an address at apply time: an IPv4 address as given, or a DNS name
    /// (a dynamic-DNS name follows the WAN address, so a scheduled re-apply moves the hairpin rules).
    /// </summary>
    public static class PublicAddressResolver
    {
        public static IPAddress Resolve(string text)
        {
            string value = (text ?? string.Empty).Trim();
            // Anything that reads as an address is checked as one: "203.0.113" must not become 203.0.0.113.
            if (IPAddress.TryParse(value, out _) || value.All(c => char.IsDigit(c) || c == '.'))
                return Checked(value, value);

            IPAddress[] found;
            try
            {
                found = Dns.GetHostAddresses(value);
            }
            catch (Exception e) when (e is SocketException || e is ArgumentException)
            {
                throw new BypassNatException("BypassNat.PublicAddressNotFound", FailureKind.ConnectionError,
                    $"-PublicAddress '{value}' is neither an IPv4 address nor a name that resolves: {e.Message}. Nothing was changed.", value, e);
            }

            IPAddress first = found.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork);
            if (first == null)
                throw new BypassNatException("BypassNat.PublicAddressNotFound", FailureKind.ConnectionError,
                    $"-PublicAddress '{value}' resolves to no IPv4 address. Nothing was changed.", value);
            return Checked(first.ToString(), value);
        }

        private static IPAddress Checked(string address, string given)
        {
            IPAddress parsed = ForwardParser.ParseAddressField(address, "PublicAddress", out ForwardIssue issue);
            if (parsed != null) return parsed;
            throw new BypassNatException("BypassNat.InvalidAddress", FailureKind.InvalidData,
                $"-PublicAddress '{given}' is not usable: {issue.Reason}. Nothing was changed.", given);
        }
    }
}
