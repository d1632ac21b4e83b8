using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;
using BypassNat.Validation;

namespace BypassNat.Backends.Iptables
{
    /// <summary>
    /// Reads BypassNat's forwards back out of <c>iptables-save -t nat</c> output. The rule fields are
    /// the truth (what the kernel will do); the comment adds what the rule cannot show.
    /// </summary>
    public static class IptablesReader
    {
        private sealed class DnatRule
        {
            public RuleComment Meta;
            public string Transport;
            public IPAddress BypassAddress;
            public PortRange BypassPort;
            public IPAddress InternalAddress;
            public PortRange InternalPort;
            public Ipv4Prefix? Source;
            // The clients the forward's rules for this key admit, once its rules per prefix are grouped.
            public SourceSet Sources = SourceSet.Any;
            public string Text;

            public string Identity => $"{Meta.Encode()} {Transport} {BypassAddress} {BypassPort} {InternalAddress} {InternalPort}";
        }

        public static IptablesState Read(string iptablesSave)
        {
            var state = new IptablesState();
            var dnat = new List<DnatRule>();
            var hairpin = new List<DnatRule>();
            var snat = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            bool inNat = false;
            int preroutingIndex = 0, postroutingIndex = 0;

            foreach (string raw in (iptablesSave ?? string.Empty).Split('\n'))
            {
                string line = raw.Trim();
                if (line.StartsWith("*", StringComparison.Ordinal)) { inNat = line == "*nat"; continue; }
                if (!inNat) continue;
                if (line.StartsWith(":" + IptablesChains.Prerouting + " ", StringComparison.Ordinal)) state.HasPreroutingChain = true;
                if (line.StartsWith(":" + IptablesChains.Postrouting + " ", StringComparison.Ordinal)) state.HasPostroutingChain = true;
                if (!line.StartsWith("-A ", StringComparison.Ordinal)) continue;

                List<string> tokens = Tokenize(line);
                if (tokens.Count < 2) continue;
                string chain = tokens[1];
                string jump = Option(tokens, "-j");
                switch (chain)
                {
                    case "PREROUTING":
                        if (jump == IptablesChains.Prerouting)
                        {
                            state.Jumps.PreroutingJumps++;
                            if (preroutingIndex == 0) state.Jumps.PreroutingJumpFirst = true;
                        }
                        preroutingIndex++;
                        break;
                    case "POSTROUTING":
                        if (jump == IptablesChains.Postrouting)
                        {
                            state.Jumps.PostroutingJumps++;
                            if (postroutingIndex == 0) state.Jumps.PostroutingJumpFirst = true;
                        }
                        postroutingIndex++;
                        break;
                    case IptablesChains.Prerouting:
                        DnatRule rule = ParseDnat(tokens, line);
                        if (rule == null) state.Problems.Add(line);
                        else if (rule.Meta.Role == RuleComment.PublicRole) hairpin.Add(rule);
                        else if (rule.Meta.Role == null) dnat.Add(rule);
                        else state.Problems.Add(line);
                        break;
                    case IptablesChains.Postrouting:
                        RuleComment meta = RuleComment.TryDecode(Option(tokens, "--comment"));
                        string transport = Option(tokens, "-p");
                        bool known = meta != null && transport != null && (
                            (meta.Role == null && jump == "SNAT") || (meta.Role == RuleComment.ReflectRole && jump == "SNAT") ||
                            (meta.Role == RuleComment.KeepRole && jump == "ACCEPT"));
                        if (!known) { state.Problems.Add(line); break; }
                        if (meta.Role != null) break;  // reflect and keep follow from the forward; nothing to read back
                        if (!snat.TryGetValue(meta.Name, out HashSet<string> set)) snat[meta.Name] = set = new HashSet<string>();
                        set.Add(transport);
                        break;
                }
            }

            dnat = Grouped(dnat, state.Problems);
            hairpin = Grouped(hairpin, state.Problems);
            var publicByName = hairpin.GroupBy(r => r.Meta.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
            foreach (IGrouping<string, DnatRule> group in dnat.GroupBy(r => r.Meta.Name, StringComparer.Ordinal))
            {
                BypassForward forward = Merge(group.ToList(), snat, state.Problems);
                snat.Remove(group.Key);
                if (forward == null) continue;
                if (publicByName.TryGetValue(group.Key, out List<DnatRule> viaPublic))
                {
                    publicByName.Remove(group.Key);
                    forward = WithPublic(forward, group.ToList(), viaPublic, state.Problems);
                }

                if (forward != null) state.Forwards.Add(forward);
            }

            foreach (string orphan in publicByName.Keys)
                state.Problems.Add($"public-address rule for '{orphan}' without its forward");

            foreach (string orphan in snat.Keys)
                state.Problems.Add($"source NAT rule for '{orphan}' without its forward");
            return state;
        }

        private static BypassForward Merge(List<DnatRule> rules, Dictionary<string, HashSet<string>> snat, List<string> problems)
        {
            DnatRule first = rules[0];
            ForwardProtocol protocol;
            if (rules.Count == 1)
                protocol = first.Transport == "udp" ? ForwardProtocol.Udp : ForwardProtocol.Tcp;
            else if (rules.Count == 2 && rules.Select(r => r.Transport).Distinct().Count() == 2 && SameTarget(rules[0], rules[1]) && rules[0].Sources.Equals(rules[1].Sources))
                protocol = ForwardProtocol.TcpUdp;
            else
            {
                problems.AddRange(rules.Select(r => r.Text));
                return null;
            }

            bool sourceNat = false;
            if (snat.TryGetValue(first.Meta.Name, out HashSet<string> natted))
            {
                sourceNat = rules.All(r => natted.Contains(r.Transport)) && natted.Count == rules.Count;
                if (!sourceNat) problems.Add($"source NAT for '{first.Meta.Name}' covers only some of its protocols");
            }

            return new BypassForward(first.Meta.Name, protocol, first.Meta.ExternalPort, first.BypassAddress, first.BypassPort,
                first.InternalAddress, first.InternalPort, sourceNat, first.Meta.Comment, allowedSource: first.Sources);
        }

        /// <summary>
        /// A forward with AllowedSource has one DNAT rule per prefix and key: put each key's rules back
        /// into one, holding the prefixes. Rules of one key that are not what the renderer writes (one
        /// without a source beside others, a prefix twice or inside another) are a problem.
        /// </summary>
        private static List<DnatRule> Grouped(List<DnatRule> rules, List<string> problems)
        {
            var grouped = new List<DnatRule>();
            foreach (IGrouping<string, DnatRule> key in rules.GroupBy(r => r.Identity, StringComparer.Ordinal))
            {
                List<DnatRule> all = key.ToList();
                DnatRule first = all[0];
                if (all.Count == 1 && first.Source == null) { grouped.Add(first); continue; }
                SourceSet sources = all.All(r => r.Source != null) ? SourceSet.FromRouter(all.Select(r => r.Source.Value).ToList()) : null;
                if (sources == null)
                {
                    problems.AddRange(all.Select(r => r.Text));
                    continue;
                }

                first.Sources = sources;
                grouped.Add(first);
            }

            return grouped;
        }

        /// <summary>The <c>-s</c> of a rule: null and true without one; false when it is not an address or prefix a renderer writes.</summary>
        internal static bool TrySource(List<string> tokens, out Ipv4Prefix? source)
        {
            source = null;
            string text = Option(tokens, "-s");
            if (text == null) return true;
            if (!ForwardParser.TryListedPrefix(text, out Ipv4Prefix prefix)) return false;
            source = prefix;
            return true;
        }

        // The hairpin rules must mirror the forward's: same protocols, the external port, one address.
        private static BypassForward WithPublic(BypassForward forward, List<DnatRule> rules, List<DnatRule> viaPublic, List<string> problems)
        {
            DnatRule first = viaPublic[0];
            bool whole = viaPublic.Count == rules.Count
                && viaPublic.Select(r => r.Transport).OrderBy(t => t).SequenceEqual(rules.Select(r => r.Transport).OrderBy(t => t))
                && viaPublic.All(r => r.BypassAddress.Equals(first.BypassAddress) && r.BypassPort == forward.ExternalPort
                    && r.InternalAddress.Equals(forward.InternalAddress) && r.InternalPort == forward.InternalPort && r.Sources.Equals(forward.AllowedSource));
            if (whole) return forward.WithPublicAddress(first.BypassAddress);
            problems.AddRange(viaPublic.Select(r => r.Text));
            return null;
        }

        private static bool SameTarget(DnatRule a, DnatRule b) =>
            a.Meta.ExternalPort == b.Meta.ExternalPort && a.Meta.Comment == b.Meta.Comment &&
            a.BypassAddress.Equals(b.BypassAddress) && a.BypassPort == b.BypassPort &&
            a.InternalAddress.Equals(b.InternalAddress) && a.InternalPort == b.InternalPort;

        private static DnatRule ParseDnat(List<string> tokens, string line)
        {
            RuleComment meta = RuleComment.TryDecode(Option(tokens, "--comment"));
            string transport = Option(tokens, "-p");
            if (meta == null || Option(tokens, "-j") != "DNAT" || (transport != "tcp" && transport != "udp")) return null;
            if (!TryAddress(Option(tokens, "-d"), out IPAddress bypassAddress)) return null;
            if (!TryPorts(Option(tokens, "--dport"), out PortRange bypassPort)) return null;

            if (!TryTarget(Option(tokens, "--to-destination"), bypassPort, out IPAddress internalAddress, out PortRange internalPort)) return null;
            if (!TrySource(tokens, out Ipv4Prefix? source)) return null;

            return new DnatRule
            {
                Meta = meta, Transport = transport, BypassAddress = bypassAddress, BypassPort = bypassPort,
                InternalAddress = internalAddress, InternalPort = internalPort, Source = source, Text = line,
            };
        }

        /// <summary>--to-destination is ADDR, ADDR:PORT, ADDR:A-B (same ports) or ADDR:A-B/BASE (a shifted range).</summary>
        internal static bool TryTarget(string target, PortRange matched, out IPAddress address, out PortRange ports)
        {
            target = target ?? string.Empty;
            ports = matched;
            int colon = target.IndexOf(':');
            if (!TryAddress(colon < 0 ? target : target.Substring(0, colon), out address)) return false;
            if (colon < 0) return true;
            string text = target.Substring(colon + 1);
            int slash = text.IndexOf('/');
            if (slash >= 0)
            {
                if (!int.TryParse(text.Substring(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int baseport)
                    || baseport != matched.Start) return false;
                text = text.Substring(0, slash);
            }

            return PortRange.TryParse(text, out ports, out _) && ports.Count == matched.Count;
        }

        internal static bool TryAddress(string text, out IPAddress address)
        {
            address = null;
            if (string.IsNullOrEmpty(text)) return false;
            if (text.EndsWith("/32", StringComparison.Ordinal)) text = text.Substring(0, text.Length - 3);
            return text.IndexOf('/') < 0 && IPAddress.TryParse(text, out address);
        }

        private static bool TryPorts(string text, out PortRange range)
        {
            range = default;
            return text != null && PortRange.TryParse(text.Replace(':', '-'), out range, out _);
        }

        internal static string Option(List<string> tokens, string name)
        {
            int i = tokens.IndexOf(name);
            return i >= 0 && i + 1 < tokens.Count ? tokens[i + 1] : null;
        }

        /// <summary>Splits an iptables-save line into words; quoted words may hold spaces and \" escapes.</summary>
        internal static List<string> Tokenize(string line)
        {
            var tokens = new List<string>();
            var word = new StringBuilder();
            bool quoted = false, any = false;
            for (int i = 0; i < line.Length; i++)
            {
                char c = line[i];
                if (quoted)
                {
                    if (c == '\\' && i + 1 < line.Length) word.Append(line[++i]);
                    else if (c == '"') quoted = false;
                    else word.Append(c);
                }
                else if (c == '"') { quoted = true; any = true; }
                else if (c == ' ' || c == '\t')
                {
                    if (any) tokens.Add(word.ToString());
                    word.Clear();
                    any = false;
                }
                else { word.Append(c); any = true; }
            }

            if (any) tokens.Add(word.ToString());
            return tokens;
        }
    }
}
