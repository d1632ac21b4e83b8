using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace BypassNat
{
    /// <summary>
    /// Turns text fields into a <see cref="BypassForward"/>, collecting every problem in the row
    /// rather than stopping at the first, so a user fixes a CSV in one pass.
    /// </summary>
    public static class ForwardParser
    {
        public const int MaxNameLength = 32;

        // Names end up in rule comments, nft element comments, file names and log lines:
        // keep them to characters that need no quoting anywhere.
        private static readonly Regex NamePattern = new Regex("^[A-Za-z0-9][A-Za-z0-9_.-]*$", RegexOptions.CultureInvariant);

        /// <summary>Whether a name is safe everywhere it ends up; also applied to names read back from a router.</summary>
        public static bool IsSafeName(string name) =>
            !string.IsNullOrEmpty(name) && name.Length <= MaxNameLength && NamePattern.IsMatch(name);

        public static BypassForward Parse(ForwardInput input, int row, out IReadOnlyList<ForwardIssue> issues)
        {
            var found = new List<ForwardIssue>();
            void Fail(string id, string field, string value, string reason) =>
                found.Add(new ForwardIssue(id, row, field, value ?? string.Empty, reason));

            string name = (input.Name ?? string.Empty).Trim();
            if (name.Length == 0)
                Fail("BypassNat.MissingField", "Name", name, "every forward needs a name");
            else if (name.Length > MaxNameLength)
                Fail("BypassNat.InvalidName", "Name", name, $"a name has at most {MaxNameLength} characters");
            else if (!NamePattern.IsMatch(name))
                Fail("BypassNat.InvalidName", "Name", name, "a name uses only letters, digits, '.', '_' and '-', and starts with a letter or digit");

            ForwardProtocol protocol = ForwardProtocol.Tcp;
            if (!string.IsNullOrWhiteSpace(input.Protocol) && !TryParseProtocol(input.Protocol, out protocol))
                Fail("BypassNat.InvalidProtocol", "Protocol", input.Protocol, "use Tcp, Udp or TcpUdp");

            PortRange externalPort = default;
            bool externalOk = PortRange.TryParse(input.ExternalPort, out externalPort, out string reason);
            if (!externalOk) Fail(IdFor(input.ExternalPort, "BypassNat.InvalidPort"), "ExternalPort", input.ExternalPort, reason);

            IPAddress bypassAddress = ParseAddress(input.BypassAddress, "BypassAddress", Fail);
            IPAddress internalAddress = ParseAddress(input.InternalAddress, "InternalAddress", Fail);

            PortRange bypassPort = externalPort;
            bool bypassOk = externalOk;
            if (!string.IsNullOrWhiteSpace(input.BypassPort))
            {
                bypassOk = PortRange.TryParse(input.BypassPort, out bypassPort, out reason);
                if (!bypassOk) Fail("BypassNat.InvalidPort", "BypassPort", input.BypassPort, reason);
                else if (externalOk && bypassPort.Count != externalPort.Count)
                    Fail("BypassNat.PortRangeMismatch", "BypassPort", input.BypassPort,
                        $"ports map one to one, so it needs {externalPort.Count} port(s) like ExternalPort '{externalPort}', not {bypassPort.Count}");
            }

            PortRange internalPort = bypassPort;
            if (!string.IsNullOrWhiteSpace(input.InternalPort))
            {
                bool internalOk = PortRange.TryParse(input.InternalPort, out internalPort, out reason);
                if (!internalOk) Fail("BypassNat.InvalidPort", "InternalPort", input.InternalPort, reason);
                else if (bypassOk && internalPort.Count != bypassPort.Count)
                    Fail("BypassNat.PortRangeMismatch", "InternalPort", input.InternalPort,
                        $"ports map one to one, so it needs {bypassPort.Count} port(s) like BypassPort '{bypassPort}', not {internalPort.Count}");
            }

            IPAddress publicAddress = string.IsNullOrWhiteSpace(input.PublicAddress) ? null : ParseAddress(input.PublicAddress, "PublicAddress", Fail);
            SourceSet allowedSource = ParseSources(input.AllowedSource, Fail);
            bool sourceNat = ParseSwitch(input.SourceNat, "SourceNat", false, Fail);
            bool enabled = ParseSwitch(input.Enabled, "Enabled", true, Fail);

            string comment = (input.Comment ?? string.Empty).Trim();
            string commentProblem = CommentProblem(comment);
            if (commentProblem != null) Fail("BypassNat.InvalidComment", "Comment", comment, commentProblem);

            issues = found;
            if (found.Count > 0) return null;
            return new BypassForward(name, protocol, externalPort, bypassAddress, bypassPort, internalAddress, internalPort, sourceNat, comment, enabled, publicAddress, allowedSource);
        }

        /// <summary>Why a comment cannot be stored on the router, or null. Counts characters as typed (see <see cref="RuleComment.MaxCommentCharacters"/>).</summary>
        public static string CommentProblem(string comment)
        {
            int characters = RuleComment.CountCharacters(comment);
            if (characters > RuleComment.MaxCommentCharacters)
                return $"a comment has at most {RuleComment.MaxCommentCharacters} characters, and this one has {characters}";
            if (HasBrokenCharacter(comment))
                return "it holds half of a character (an unpaired UTF-16 surrogate), which cannot be stored and read back; check the file's encoding";
            if (HasControlCharacter(comment)) return "a comment is one line of printable text";
            return null;
        }

        private static string IdFor(string value, string otherwise) =>
            string.IsNullOrWhiteSpace(value) ? "BypassNat.MissingField" : otherwise;

        public static bool TryParseProtocol(string text, out ForwardProtocol protocol)
        {
            protocol = ForwardProtocol.Tcp;
            switch ((text ?? string.Empty).Trim().ToLowerInvariant())
            {
                case "tcp": protocol = ForwardProtocol.Tcp; return true;
                case "udp": protocol = ForwardProtocol.Udp; return true;
                case "tcpudp":
                case "tcp+udp":
                case "tcp/udp":
                case "both": protocol = ForwardProtocol.TcpUdp; return true;
                default: return false;
            }
        }

        /// <summary>One address field on its own: the address, or null and why not.</summary>
        public static IPAddress ParseAddressField(string text, string field, out ForwardIssue issue)
        {
            ForwardIssue found = null;
            IPAddress address = ParseAddress(text, field, (id, f, value, reason) => found = new ForwardIssue(id, 0, f, value, reason));
            issue = found;
            return address;
        }

        private static IPAddress ParseAddress(string text, string field, Action<string, string, string, string> fail)
        {
            string value = (text ?? string.Empty).Trim();
            if (value.Length == 0)
            {
                fail("BypassNat.MissingField", field, value, "an IPv4 address such as 192.0.2.20 is required");
                return null;
            }

            // IPAddress.TryParse also takes "10" or "10.1" as shorthand; a forward wants all four parts.
            string[] parts = value.Split('.');
            bool dotted = parts.Length == 4 && Array.TrueForAll(parts, p =>
                p.Length > 0 && p.Length <= 3 && int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 255);
            if (!dotted || !IPAddress.TryParse(value, out IPAddress address) || address.AddressFamily != AddressFamily.InterNetwork)
            {
                fail("BypassNat.InvalidAddress", field, value, "an IPv4 address is four numbers 0-255 separated by dots, such as 192.0.2.20");
                return null;
            }

            byte[] b = address.GetAddressBytes();
            string unusable = b[0] == 0 ? "0.0.0.0/8 is not a host address"
                : b[0] == 127 ? "a loopback address is not reachable from another host"
                : b[0] >= 224 && b[0] <= 239 ? "a multicast address cannot be forwarded to"
                : b[0] >= 240 ? "a reserved or broadcast address cannot be forwarded to"
                : null;
            if (unusable != null)
            {
                fail("BypassNat.InvalidAddress", field, value, unusable);
                return null;
            }

            return address;
        }

        private static readonly char[] SourceSeparators = { ' ', '\t', ';', ',' };

        /// <summary>
        /// AllowedSource: addresses and prefixes separated by blanks, ';' or ','. Each bad entry is its
        /// own problem, naming the entry. A prefix with host bits set (198.51.100.7/24) is refused rather
        /// than widened: whoever wrote it may have meant the one address.
        /// </summary>
        private static SourceSet ParseSources(string text, Action<string, string, string, string> fail)
        {
            const string Field = "AllowedSource";
            string[] entries = (text ?? string.Empty).Split(SourceSeparators, StringSplitOptions.RemoveEmptyEntries);
            if (entries.Length > SourceSet.MaxEntries)
            {
                fail("BypassNat.InvalidSource", Field, text, $"a forward admits at most {SourceSet.MaxEntries} addresses or prefixes, and this one lists {entries.Length}; use a shorter prefix that covers them");
                return SourceSet.Any;
            }

            var prefixes = new List<Ipv4Prefix>();
            foreach (string entry in entries)
            {
                string problem = SourceProblem(entry, out Ipv4Prefix prefix);
                if (problem != null) fail("BypassNat.InvalidSource", Field, entry, problem);
                else prefixes.Add(prefix);
            }

            return SourceSet.Of(prefixes);
        }

        /// <summary>Why one AllowedSource entry cannot be used, or null and the prefix it stands for.</summary>
        public static string SourceProblem(string entry, out Ipv4Prefix prefix)
        {
            prefix = default;
            const string Form = "an entry is an IPv4 address (198.51.100.7) or a prefix (198.51.100.0/24); separate entries with spaces or ';'";
            int slash = entry.IndexOf('/');
            string addressText = slash < 0 ? entry : entry.Substring(0, slash);
            int length = 32;
            if (slash >= 0)
            {
                string lengthText = entry.Substring(slash + 1);
                if (lengthText.Length == 0 || lengthText.Length > 2 || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > 32)
                    return "a prefix length is a number from 1 to 32 after the '/'";
            }

            string[] parts = addressText.Split('.');
            bool dotted = parts.Length == 4 && Array.TrueForAll(parts, p =>
                p.Length > 0 && p.Length <= 3 && int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 255);
            if (!dotted || !IPAddress.TryParse(addressText, out IPAddress address) || address.AddressFamily != AddressFamily.InterNetwork)
                return Form;
            if (length == 0) return "0.0.0.0/0 admits every client: leave AllowedSource empty for that";
            var network = new Ipv4Prefix(address, length);
            if (!network.Network.Equals(address))
                return $"the address has bits set beyond the /{length} prefix: write {network} for the network, or {address} for the one address";
            byte first = address.GetAddressBytes()[0];
            string unusable = first == 0 ? "0.0.0.0/8 is never a client's source address"
                : first == 127 ? "a loopback address is never a client's source on the network"
                : first >= 224 ? "a multicast or reserved address is never a client's source address"
                : null;
            if (unusable != null) return unusable;
            prefix = network;
            return null;
        }

        private static bool ParseSwitch(string text, string field, bool byDefault, Action<string, string, string, string> fail)
        {
            string value = (text ?? string.Empty).Trim().ToLowerInvariant();
            switch (value)
            {
                case "": return byDefault;
                case "true": case "yes": case "1": case "on": case "$true": return true;
                case "false": case "no": case "0": case "off": case "$false": return false;
                default:
                    fail("BypassNat.InvalidBoolean", field, text, "use true or false (yes/no, 1/0 and on/off work too)");
                    return byDefault;
            }
        }

        // Such text cannot be encoded as UTF-8, so what the router would store is not what was written.
        private static bool HasBrokenCharacter(string text)
        {
            for (int i = 0; i < text.Length; i++)
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
                if (char.IsSurrogate(text[i])) return true;
            }

            return false;
        }

        // Control characters (a line break, NUL) and the Unicode line separators.
        private static bool HasControlCharacter(string text)
        {
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
                if (char.IsControl(c) || char.IsSurrogate(c) || c == '\u2028' || c == '\u2029') return true;
            }

            return false;
        }
    }
}
