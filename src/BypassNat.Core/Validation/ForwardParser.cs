using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace BypassNat.Validation
{
    /// <summary>
    /// Turns text fields into a <see cref="BypassForward"/>, collecting every problem in the row
    /// rather than stopping at the first, so a user fixes a CSV in one pass.
    /// </summary>
    public static class ForwardParser
    {
        public const int MaxNameLength = ForwardName.MaxLength;

        /// <summary>Whether a name is safe everywhere it ends up; also applied to names read back from a router.</summary>
        public static bool IsSafeName(string name) => ForwardName.IsSafe(name);

        /// <summary>The replacement character a reader puts where bytes were not valid in the encoding it read them with.</summary>
        public const char ReplacementCharacter = '\uFFFD';

        internal const string GarbledReason =
            "it holds U+FFFD (\uFFFD), the mark left where bytes were not UTF-8: the file is in another encoding, such as GBK from Excel on Chinese Windows. " +
            "Read it with Import-Csv -Encoding 936 (or the file's code page), or save it as \"CSV UTF-8\" and import it again";

        /// <summary>
        /// A CSV saved in GBK (Excel on Chinese Windows) and read as UTF-8 gives "\uFFFD\uFFFD\uFFFD\uFFFDNAS":
        /// accepted, it would put that on the router. Each field holding U+FFFD is an issue of its
        /// own; returns whether the Name was one (its other checks would only repeat it).
        /// </summary>
        private static bool Garbled(ForwardInput input, RowIssues found)
        {
            bool name = IsGarbled(input.Name);
            if (name) found.Add("BypassNat.InvalidEncoding", "Name", input.Name, GarbledReason);
            if (IsGarbled(input.Protocol)) found.Add("BypassNat.InvalidEncoding", "Protocol", input.Protocol, GarbledReason);
            if (IsGarbled(input.ExternalPort)) found.Add("BypassNat.InvalidEncoding", "ExternalPort", input.ExternalPort, GarbledReason);
            if (IsGarbled(input.BypassAddress)) found.Add("BypassNat.InvalidEncoding", "BypassAddress", input.BypassAddress, GarbledReason);
            if (IsGarbled(input.BypassPort)) found.Add("BypassNat.InvalidEncoding", "BypassPort", input.BypassPort, GarbledReason);
            if (IsGarbled(input.InternalAddress)) found.Add("BypassNat.InvalidEncoding", "InternalAddress", input.InternalAddress, GarbledReason);
            if (IsGarbled(input.InternalPort)) found.Add("BypassNat.InvalidEncoding", "InternalPort", input.InternalPort, GarbledReason);
            if (IsGarbled(input.SourceNat)) found.Add("BypassNat.InvalidEncoding", "SourceNat", input.SourceNat, GarbledReason);
            if (IsGarbled(input.Comment)) found.Add("BypassNat.InvalidEncoding", "Comment", input.Comment, GarbledReason);
            if (IsGarbled(input.Enabled)) found.Add("BypassNat.InvalidEncoding", "Enabled", input.Enabled, GarbledReason);
            if (IsGarbled(input.PublicAddress)) found.Add("BypassNat.InvalidEncoding", "PublicAddress", input.PublicAddress, GarbledReason);
            if (IsGarbled(input.AllowedSource)) found.Add("BypassNat.InvalidEncoding", "AllowedSource", input.AllowedSource, GarbledReason);
            return name;
        }

        private static bool IsGarbled(string field) => field != null && field.IndexOf(ReplacementCharacter) >= 0;

        public static BypassForward Parse(ForwardInput input, int row, out IReadOnlyList<ForwardIssue> issues)
        {
            // One collector a row, passed to the field parsers: a closure a row and a delegate a call
            // were a fair part of the parse of a 100,000-row CSV.
            var found = new RowIssues(row);
            bool garbledName = Garbled(input, found);

            string name = (input.Name ?? string.Empty).Trim();
            if (garbledName)
            {
            }
            else if (name.Length == 0)
                found.Add("BypassNat.MissingField", "Name", name, "every forward needs a name");
            else if (name.Length > MaxNameLength)
                found.Add("BypassNat.InvalidName", "Name", name, $"a name has at most {MaxNameLength} characters");
            else if (!ForwardName.HasNameCharacters(name))
                found.Add("BypassNat.InvalidName", "Name", name, "a name uses only letters, digits, '.', '_' and '-', and starts with a letter or digit");

            ForwardProtocol protocol = ForwardProtocol.Tcp;
            if (!string.IsNullOrWhiteSpace(input.Protocol) && !TryParseProtocol(input.Protocol, out protocol))
                found.Add("BypassNat.InvalidProtocol", "Protocol", input.Protocol, "use Tcp, Udp or TcpUdp");

            PortRange externalPort = default;
            bool externalOk = PortRange.TryParse(input.ExternalPort, out externalPort, out string reason);
            if (!externalOk) found.Add(IdFor(input.ExternalPort, "BypassNat.InvalidPort"), "ExternalPort", input.ExternalPort, reason);

            IPAddress bypassAddress = ParseAddress(input.BypassAddress, "BypassAddress", found);
            // InternalAddress may be left empty for an IPv6-only forward; a row needs at least one of the two.
            bool ipv6Only = string.IsNullOrWhiteSpace(input.InternalAddress) && !string.IsNullOrWhiteSpace(input.InternalIPv6);
            IPAddress internalAddress = null;
            if (string.IsNullOrWhiteSpace(input.InternalAddress) && !ipv6Only)
                found.Add("BypassNat.MissingField", "InternalAddress", string.Empty,
                    "the device's address is required: InternalAddress (IPv4, such as 192.0.2.20), InternalIPv6 (such as ::20), or both");
            else if (!ipv6Only) internalAddress = ParseAddress(input.InternalAddress, "InternalAddress", found);

            PortRange bypassPort = externalPort;
            bool bypassOk = externalOk;
            if (!string.IsNullOrWhiteSpace(input.BypassPort))
            {
                bypassOk = PortRange.TryParse(input.BypassPort, out bypassPort, out reason);
                if (!bypassOk) found.Add("BypassNat.InvalidPort", "BypassPort", input.BypassPort, reason);
                else if (externalOk && bypassPort.Count != externalPort.Count)
                    found.Add("BypassNat.PortRangeMismatch", "BypassPort", input.BypassPort,
                        $"ports map one to one, so it needs {externalPort.Count} port(s) like ExternalPort '{externalPort}', not {bypassPort.Count}");
            }

            PortRange internalPort = bypassPort;
            if (!string.IsNullOrWhiteSpace(input.InternalPort))
            {
                bool internalOk = PortRange.TryParse(input.InternalPort, out internalPort, out reason);
                if (!internalOk) found.Add("BypassNat.InvalidPort", "InternalPort", input.InternalPort, reason);
                else if (bypassOk && internalPort.Count != bypassPort.Count)
                    found.Add("BypassNat.PortRangeMismatch", "InternalPort", input.InternalPort,
                        $"ports map one to one, so it needs {bypassPort.Count} port(s) like BypassPort '{bypassPort}', not {internalPort.Count}");
            }

            IPAddress publicAddress = string.IsNullOrWhiteSpace(input.PublicAddress) ? null : ParseAddress(input.PublicAddress, "PublicAddress", found);
            SourceSet allowedSource = ParseSources(input.AllowedSource, found, out List<Ipv6Prefix> sources6);
            Ipv6Host internalIPv6 = ParseIpv6(input, allowedSource, sources6, found, externalOk ? externalPort : (PortRange?)null, internalPort);
            bool sourceNat = ParseSwitch(input.SourceNat, "SourceNat", false, found);
            bool enabled = ParseSwitch(input.Enabled, "Enabled", true, found);

            string comment = (input.Comment ?? string.Empty).Trim();
            string commentProblem = CommentProblem(comment);
            if (commentProblem != null) found.Add("BypassNat.InvalidComment", "Comment", comment, commentProblem);

            issues = found.List;
            if (found.List.Count > 0) return null;
            return new BypassForward(name, protocol, externalPort, bypassAddress, bypassPort, internalAddress, internalPort, sourceNat, comment, enabled, publicAddress, allowedSource, internalIPv6, Ipv6SourceSet.Of(sources6));
        }

        /// <summary>
        /// InternalIPv6 and the IPv6 AllowedSource entries. IPv6 has no NAT here, so the port the main
        /// router lets in is the device's own: an ExternalPort other than InternalPort is refused (nothing
        /// would translate it). IPv6 sources need InternalIPv6, and a restricted forward must name sources
        /// of both its families: one family's list left empty would admit every client of that family.
        /// </summary>
        private static Ipv6Host ParseIpv6(ForwardInput input, SourceSet sources4, List<Ipv6Prefix> sources6, RowIssues fail, PortRange? external, PortRange internalPort)
        {
            foreach (string entry in (input.AllowedSourceIPv6 ?? string.Empty).Split(SourceSeparators, StringSplitOptions.RemoveEmptyEntries))
            {
                string problem = Ipv6Prefix.Problem(entry, out Ipv6Prefix prefix);
                if (problem != null) fail.Add("BypassNat.InvalidSource", "AllowedSourceIPv6", entry, problem);
                else if (!sources6.Contains(prefix)) sources6.Add(prefix);
            }

            string text = (input.InternalIPv6 ?? string.Empty).Trim();
            if (text.Length == 0)
            {
                if (sources6.Count > 0)
                    fail.Add("BypassNat.InvalidSource", "AllowedSource", string.Join(" ", sources6), "IPv6 sources need the device's IPv6 address in InternalIPv6; this forward is IPv4 only");
                return null;
            }

            Ipv6Host host = Ipv6Host.Parse(text, out string why);
            if (host == null)
            {
                fail.Add("BypassNat.InvalidAddress", "InternalIPv6", text, why);
                return null;
            }

            if (external.HasValue && external.Value != internalPort)
                fail.Add("BypassNat.Ipv6PortTranslation", "InternalIPv6", text,
                    $"IPv6 has no NAT here: the main router lets ExternalPort {external.Value} in to the device itself, so InternalPort ({internalPort}) must be the same; " +
                    "make a separate IPv4-only row for the translated port");
            // An entry that could not be read was meant for that family: its own error says enough.
            bool wrote6 = sources6.Count > 0 || !string.IsNullOrWhiteSpace(input.AllowedSourceIPv6) || (input.AllowedSource ?? string.Empty).IndexOf(':') >= 0;
            if (string.IsNullOrWhiteSpace(input.InternalAddress))
            {
                // IPv6 only: there is no IPv4 forward for IPv4 clients to be admitted to.
                if (!sources4.IsAny)
                    fail.Add("BypassNat.InvalidSource", "AllowedSource", sources4.ToString(),
                        "the forward is IPv6 only (no InternalAddress), so IPv4 clients cannot reach it; list IPv6 prefixes only, or add InternalAddress");
                return host;
            }

            if (!sources4.IsAny && !wrote6)
                fail.Add("BypassNat.InvalidSource", "AllowedSource", sources4.ToString(),
                    "the forward is restricted to IPv4 clients but has InternalIPv6 and no IPv6 entries, so its IPv6 pinhole would admit every client; add the IPv6 clients' prefixes");
            if (sources4.IsAny && sources6.Count > 0)
                fail.Add("BypassNat.InvalidSource", "AllowedSource", string.Join(" ", sources6),
                    "the forward is restricted to IPv6 clients but has no IPv4 entries, so its IPv4 forward would admit every client; add the IPv4 clients' prefixes");
            return host;
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
            var found = new RowIssues(0);
            IPAddress address = ParseAddress(text, field, found);
            issue = found.List.Count > 0 ? found.List[0] : null;
            return address;
        }

        private static IPAddress ParseAddress(string text, string field, RowIssues fail)
        {
            string value = (text ?? string.Empty).Trim();
            if (value.Length == 0)
            {
                fail.Add("BypassNat.MissingField", field, value, "an IPv4 address such as 192.0.2.20 is required");
                return null;
            }

            Ipv4TextProblem problem = Ipv4Text.ReadAddress(value, out IPAddress address);
            if (problem != Ipv4TextProblem.None)
            {
                fail.Add("BypassNat.InvalidAddress", field, value, problem == Ipv4TextProblem.LeadingZero ? Ipv4Text.LeadingZeroReason : "an IPv4 address is four numbers 0-255 separated by dots, such as 192.0.2.20");
                return null;
            }

            byte first = address.GetAddressBytes()[0];
            string unusable = first == 0 ? "0.0.0.0/8 is not a host address"
                : first == 127 ? "a loopback address is not reachable from another host"
                : first >= 224 && first <= 239 ? "a multicast address cannot be forwarded to"
                : first >= 240 ? "a reserved or broadcast address cannot be forwarded to"
                : null;
            if (unusable != null)
            {
                fail.Add("BypassNat.InvalidAddress", field, value, unusable);
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
        private static SourceSet ParseSources(string text, RowIssues fail, out List<Ipv6Prefix> sources6)
        {
            const string Field = "AllowedSource";
            sources6 = new List<Ipv6Prefix>();
            if (string.IsNullOrEmpty(text)) return SourceSet.Any;
            string[] entries = (text ?? string.Empty).Split(SourceSeparators, StringSplitOptions.RemoveEmptyEntries);
            if (entries.Length > SourceSet.MaxEntries)
            {
                fail.Add("BypassNat.InvalidSource", Field, text, $"a forward admits at most {SourceSet.MaxEntries} addresses or prefixes, and this one lists {entries.Length}; use a shorter prefix that covers them");
                return SourceSet.Any;
            }

            var prefixes = new List<Ipv4Prefix>();
            foreach (string entry in entries)
            {
                // An IPv6 entry (it has a colon) is for the forward's IPv6 pinhole.
                if (entry.IndexOf(':') >= 0)
                {
                    string problem6 = Ipv6Prefix.Problem(entry, out Ipv6Prefix prefix6);
                    if (problem6 != null) fail.Add("BypassNat.InvalidSource", Field, entry, problem6);
                    else if (!sources6.Contains(prefix6)) sources6.Add(prefix6);
                    continue;
                }

                string problem = SourceProblem(entry, out Ipv4Prefix prefix);
                if (problem != null) fail.Add("BypassNat.InvalidSource", Field, entry, problem);
                else prefixes.Add(prefix);
            }

            return SourceSet.Of(prefixes);
        }

        /// <summary>Why one AllowedSource entry cannot be used, or null and the prefix it stands for.</summary>
        public static string SourceProblem(string entry, out Ipv4Prefix prefix)
        {
            prefix = default;
            const string Form = "an entry is an IPv4 address (198.51.100.7) or a prefix (198.51.100.0/24), or for an IPv6 forward an IPv6 one; separate entries with spaces or ';'";
            Ipv4TextProblem problem = Ipv4Text.ReadPrefix(entry, out Ipv4Prefix network, out IPAddress address);
            if (problem == Ipv4TextProblem.Length) return "a prefix length is a number from 1 to 32 after the '/'";
            if (problem == Ipv4TextProblem.LeadingZero) return Ipv4Text.LeadingZeroReason;
            if (problem == Ipv4TextProblem.Address) return Form;
            if (network.Length == 0) return "0.0.0.0/0 admits every client: leave AllowedSource empty for that";
            if (problem == Ipv4TextProblem.HostBits)
                return $"the address has bits set beyond the /{network.Length} prefix: write {network} for the network, or {address} for the one address";
            byte first = address.GetAddressBytes()[0];
            string unusable = first == 0 ? "0.0.0.0/8 is never a client's source address"
                : first == 127 ? "a loopback address is never a client's source on the network"
                : first >= 224 ? "a multicast or reserved address is never a client's source address"
                : null;
            if (unusable != null) return unusable;
            prefix = network;
            return null;
        }

        /// <summary>An address or prefix as a router lists it; a prefix with host bits set is not one a renderer wrote.</summary>
        internal static bool TryListedPrefix(string text, out Ipv4Prefix prefix)
        {
            string entry = text.EndsWith("/32", StringComparison.Ordinal) ? text.Substring(0, text.Length - 3) : text;
            return SourceProblem(entry, out prefix) == null;
        }

        private static bool ParseSwitch(string text, string field, bool byDefault, RowIssues fail)
        {
            string value = (text ?? string.Empty).Trim().ToLowerInvariant();
            switch (value)
            {
                case "": return byDefault;
                case "true": case "yes": case "1": case "on": case "$true": return true;
                case "false": case "no": case "0": case "off": case "$false": return false;
                default:
                    fail.Add("BypassNat.InvalidBoolean", field, text, "use true or false (yes/no, 1/0 and on/off work too)");
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

        /// <summary>The problems of one row, as the field parsers find them.</summary>
        private sealed class RowIssues
        {
            private readonly int _row;
            private List<ForwardIssue> _list;

            public RowIssues(int row) => _row = row;

            public IReadOnlyList<ForwardIssue> List => (IReadOnlyList<ForwardIssue>)_list ?? Array.Empty<ForwardIssue>();

            public void Add(string id, string field, string value, string reason) =>
                (_list ?? (_list = new List<ForwardIssue>())).Add(new ForwardIssue(id, _row, field, value ?? string.Empty, reason));
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
