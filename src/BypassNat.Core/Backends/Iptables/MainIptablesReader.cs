using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat.Backends.Iptables
{
    /// <summary>Reads the main router's forwards back out of <c>iptables-save -t nat</c>: the rule fields are the truth.</summary>
    public static class MainIptablesReader
    {
        public static MainIptablesState Read(string iptablesSave, string expectedWan = null)
        {
            var state = new MainIptablesState { ExpectedWanInterface = expectedWan };
            var wan = new List<MainElement>();
            var viaPublic = new List<MainElement>();
            var interfaces = new HashSet<string>(StringComparer.Ordinal);
            bool inNat = false;
            int preroutingIndex = 0, postroutingIndex = 0;
            foreach (string raw in (iptablesSave ?? string.Empty).Split('\n'))
            {
                string line = raw.Trim();
                if (line.StartsWith("*", StringComparison.Ordinal)) { inNat = line == "*nat"; continue; }
                if (!inNat) continue;
                foreach (string chain in new[] { MainTable.IptablesPrerouting, MainTable.IptablesPostrouting })
                    if (line.StartsWith(":" + chain + " ", StringComparison.Ordinal)) state.Chains.Add(chain);
                if (!line.StartsWith("-A ", StringComparison.Ordinal)) continue;
                List<string> tokens = IptablesReader.Tokenize(line);
                if (tokens.Count < 2) continue;
                string jump = IptablesReader.Option(tokens, "-j");
                switch (tokens[1])
                {
                    case "PREROUTING":
                        if (jump == MainTable.IptablesPrerouting) { state.Jumps.PreroutingJumps++; if (preroutingIndex == 0) state.Jumps.PreroutingJumpFirst = true; }
                        preroutingIndex++;
                        break;
                    case "POSTROUTING":
                        if (jump == MainTable.IptablesPostrouting) { state.Jumps.PostroutingJumps++; if (postroutingIndex == 0) state.Jumps.PostroutingJumpFirst = true; }
                        postroutingIndex++;
                        break;
                    case MainTable.IptablesPrerouting:
                        MainElement rule = Parse(tokens, line, out string inInterface);
                        if (rule == null) state.Problems.Add(line);
                        else if (rule.Meta.Role == null && inInterface != null && rule.KeyAddress == null) { wan.Add(rule); interfaces.Add(inInterface); }
                        else if (rule.Meta.Role == RuleComment.PublicRole && rule.KeyAddress != null && inInterface == null) viaPublic.Add(rule);
                        else state.Problems.Add(line);
                        break;
                    case MainTable.IptablesPostrouting:
                        RuleComment meta = RuleComment.TryDecode(IptablesReader.Option(tokens, "--comment"));
                        // The reflection rules follow from the forwards and the LANs; nothing to read back from them.
                        if (meta?.Role != RuleComment.ReflectRole || jump != "MASQUERADE") state.Problems.Add(line);
                        break;
                }
            }

            state.Exists = state.Chains.Count > 0 || state.Jumps.PreroutingJumps > 0 || state.Jumps.PostroutingJumps > 0;
            state.PreroutingHooked = state.Chains.Contains(MainTable.IptablesPrerouting) && state.Jumps.PreroutingJumps == 1 && state.Jumps.PreroutingJumpFirst;
            state.PostroutingHooked = state.Chains.Contains(MainTable.IptablesPostrouting) && state.Jumps.PostroutingJumps == 1 && state.Jumps.PostroutingJumpFirst;
            if (interfaces.Count == 1) foreach (string name in interfaces) state.WanInterface = name;
            else if (interfaces.Count > 1) state.Problems.Add("the main router's rules match on several interfaces: " + string.Join(", ", interfaces));
            MainElement.Assemble(Grouped(wan, state.Problems), Grouped(viaPublic, state.Problems), state);
            return state;
        }

        /// <summary>
        /// A forward with AllowedSource has one rule per prefix and key: put each key's rules back into
        /// one holding the prefixes; rules of one key that are not what the renderer writes are a problem.
        /// </summary>
        private static List<MainElement> Grouped(List<MainElement> rules, List<string> problems)
        {
            var grouped = new List<MainElement>();
            foreach (var key in rules.GroupBy(r => $"{r.Meta.Encode()} {r.Transport} {r.KeyAddress} {r.KeyPorts} {r.To} {r.ToPorts}", StringComparer.Ordinal))
            {
                List<MainElement> all = key.ToList();
                if (all.Count == 1 && all[0].Source == null) { grouped.Add(all[0]); continue; }
                SourceSet sources = all.All(r => r.Source != null) ? SourceSet.FromRouter(all.Select(r => r.Source.Value).ToList()) : null;
                if (sources == null) { problems.AddRange(all.Select(r => r.Text)); continue; }
                all[0].Sources = sources;
                grouped.Add(all[0]);
            }

            return grouped;
        }

        private static MainElement Parse(List<string> tokens, string line, out string inInterface)
        {
            inInterface = IptablesReader.Option(tokens, "-i");
            RuleComment meta = RuleComment.TryDecode(IptablesReader.Option(tokens, "--comment"));
            string transport = IptablesReader.Option(tokens, "-p");
            if (meta == null || IptablesReader.Option(tokens, "-j") != "DNAT" || (transport != "tcp" && transport != "udp")) return null;
            if (inInterface != null && IptablesReader.Option(tokens, "--dst-type") != "LOCAL") return null;
            IPAddress address = null;
            string destination = IptablesReader.Option(tokens, "-d");
            if (destination != null && !IptablesReader.TryAddress(destination, out address)) return null;
            string ports = IptablesReader.Option(tokens, "--dport");
            if (ports == null || !PortRange.TryParse(ports.Replace(':', '-'), out PortRange keyPorts, out _)) return null;
            if (!IptablesReader.TryTarget(IptablesReader.Option(tokens, "--to-destination"), keyPorts, out IPAddress to, out PortRange toPorts)) return null;
            if (!IptablesReader.TrySource(tokens, out Ipv4Prefix? source)) return null;
            return new MainElement { Meta = meta, Transport = transport, KeyAddress = address, KeyPorts = keyPorts, To = to, ToPorts = toPorts, Source = source, Text = line };
        }
    }
}
