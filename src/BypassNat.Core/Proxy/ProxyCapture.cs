using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace BypassNat.Proxy
{
    /// <summary>
    /// How a transparent proxy on the bypass router captures LAN traffic, as the survey found it: TPROXY
    /// rules in the iptables mangle table, <c>tproxy</c> statements in native nftables tables, and policy
    /// routing into a table whose default route is a tunnel (a TUN-mode proxy). Any of them also takes
    /// the replies a device sends to a forwarded client, since those arrive from the LAN addressed to
    /// the internet; this is what <see cref="ProxyExemption"/> must keep them from.
    /// </summary>
    public sealed class ProxyCapture
    {
        public static readonly ProxyCapture None = new ProxyCapture();

        /// <summary>The iptables mangle rules that TPROXY (as iptables-save prints them).</summary>
        public List<string> IptablesTproxyRules { get; } = new List<string>();

        /// <summary>Native nftables tables ("inet clash") with a tproxy statement; not BypassNat's.</summary>
        public List<string> NftablesTproxyTables { get; } = new List<string>();

        /// <summary>Policy-routing rules (ip rule, as printed) that lead into a tunnel's table, by a mark nothing in the iptables mangle table sets.</summary>
        public List<PolicyRule> TunnelRules { get; } = new List<PolicyRule>();

        /// <summary>
        /// Rules into a tunnel's table selected by a mark that an iptables mangle <c>-j MARK</c> rule sets
        /// (OpenClash's TUN mode on fw3): the same mangle exemption keeps the replies from being marked.
        /// </summary>
        public List<PolicyRule> MarkedTunnelRules { get; } = new List<PolicyRule>();

        // The marks iptables mangle MARK rules set (value only, lower case hex).
        private readonly HashSet<string> _marks = new HashSet<string>(StringComparer.Ordinal);

        /// <summary>BypassNat's exemption chain in the mangle table, as it is now (its -A lines).</summary>
        public List<string> ExemptionRules { get; } = new List<string>();

        public bool HasExemptionChain { get; private set; }

        /// <summary>How many jumps to the exemption chain mangle PREROUTING holds, and whether one is its first rule.</summary>
        public int ExemptionJumps { get; private set; }

        public bool ExemptionJumpFirst { get; private set; }

        /// <summary>iptables is there but its mangle table could not be listed (a sudo login not allowed iptables-save): TPROXY rules there are unknown.</summary>
        public bool MangleRefused { get; private set; }

        public bool Found => IptablesTproxyRules.Count > 0 || NftablesTproxyTables.Count > 0 || TunnelRules.Count > 0 || MarkedTunnelRules.Count > 0;

        /// <summary>Whether the proxy captures in the iptables mangle table, where BypassNat's exemption works.</summary>
        public bool CapturesInMangle => IptablesTproxyRules.Count > 0 || MarkedTunnelRules.Count > 0;

        /// <summary>
        /// The survey's section: the mangle table, the tables with tproxy statements, ip rules, and the
        /// routes of every table but main and local. Never fails: what cannot be listed is just absent.
        /// </summary>
        public static string Script(string privileged)
        {
            var script = new StringBuilder();
            script.Append("if command -v iptables-save >/dev/null 2>&1; then\n");
            script.Append("  echo '@mangle'\n");
            script.Append("  LC_ALL=C ").Append(privileged).Append("iptables-save -t mangle 2>/dev/null || echo '@mangle-unreadable'\n");
            script.Append("fi\n");
            // Only the prerouting base chains, jumps, tproxy statements and BypassNat's own rules (then
            // '@nft' and the tables with tproxy): a router's whole ruleset can be thousands of lines.
            script.Append("if command -v nft >/dev/null 2>&1; then\n");
            script.Append("  echo '@nftchains'\n");
            script.Append("  ").Append(NftablesExemption.ListScript(privileged));
            script.Append("fi\n");
            script.Append("echo '@rules'\n");
            script.Append("ip -4 rule show 2>/dev/null\n");
            script.Append("echo '@routes'\n");
            script.Append("ip -4 route show table all 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == \"table\" && $(i + 1) != \"local\" && $(i + 1) != \"main\") { print; break } }'\n");
            script.Append("exit 0\n");
            return script.ToString();
        }

        public static ProxyCapture Parse(string output)
        {
            var capture = new ProxyCapture();
            var rules = new List<PolicyRule>();
            var tunnelTables = new Dictionary<string, string>(StringComparer.Ordinal);
            var tproxyTables = new HashSet<string>(StringComparer.Ordinal);
            string part = null;
            bool preroutingSeen = false;
            foreach (string raw in output.Split('\n'))
            {
                string line = raw.TrimEnd('\r');
                if (line.StartsWith("@", StringComparison.Ordinal) && line.IndexOf(' ') < 0)
                {
                    part = line.Substring(1);
                    if (part == "mangle-unreadable") capture.MangleRefused = true;
                    continue;
                }

                switch (part)
                {
                    case "mangle":
                        capture.ParseMangleLine(line, ref preroutingSeen);
                        break;
                    case "nft":
                        string table = line.Trim();
                        if (table.Length > 0 && table != "ip bypassnat" && table != "ip bypassnat_main") capture.NftablesTproxyTables.Add(table);
                        break;
                    case "nftchains":
                        capture.ParseNftLine(line);
                        break;
                    case "rules":
                        PolicyRule rule = PolicyRule.Parse(line);
                        if (rule != null) rules.Add(rule);
                        break;
                    case "routes":
                        ClassifyRoute(line, tunnelTables, tproxyTables);
                        break;
                }
            }

            capture.ResolveNftChains();
            foreach (PolicyRule rule in rules)
                if (rule.Table != null && !tproxyTables.Contains(rule.Table) && tunnelTables.TryGetValue(rule.Table, out string device))
                {
                    rule.Device = device;
                    (rule.Mark != null && capture._marks.Contains(rule.Mark) ? capture.MarkedTunnelRules : capture.TunnelRules).Add(rule);
                }

            return capture;
        }

        /// <summary>
        /// The prerouting filter base chains ("inet clash prerouting") of the proxy's nftables tables from
        /// which a tproxy statement is reached, where <see cref="NftablesExemption"/> puts its rules.
        /// </summary>
        public List<string> NftExemptChains { get; } = new List<string>();

        /// <summary>BypassNat's rules in other tables' chains, in each chain's order.</summary>
        public List<NftOwnRule> NftOwnRules { get; } = new List<NftOwnRule>();

        private readonly List<string> _nftBaseChains = new List<string>();
        private readonly HashSet<string> _nftTproxyChains = new HashSet<string>(StringComparer.Ordinal);
        private readonly Dictionary<string, List<string>> _nftJumps = new Dictionary<string, List<string>>(StringComparer.Ordinal);

        private void ParseNftLine(string line)
        {
            string[] words = line.Split(' ');
            if (words.Length < 4) return;
            string chain = words[1] + " " + words[2] + " " + words[3];
            switch (words[0])
            {
                case "base":
                    _nftBaseChains.Add(chain);
                    break;
                case "tproxy":
                    _nftTproxyChains.Add(chain);
                    break;
                case "edge" when words.Length >= 5:
                    if (!_nftJumps.TryGetValue(chain, out List<string> targets)) _nftJumps[chain] = targets = new List<string>();
                    targets.Add(words[1] + " " + words[2] + " " + words[4]);
                    break;
                case "own" when words.Length >= 7:
                    NftOwnRules.Add(new NftOwnRule { Chain = chain, Handle = words[4], Displaced = words[5] == "1", Rule = string.Join(" ", words.Skip(6)) });
                    break;
            }
        }

        private void ResolveNftChains()
        {
            foreach (string chain in _nftBaseChains)
                if (!NftExemptChains.Contains(chain) && ReachesTproxy(chain, new HashSet<string>(StringComparer.Ordinal))) NftExemptChains.Add(chain);
        }

        private bool ReachesTproxy(string chain, HashSet<string> visited)
        {
            if (!visited.Add(chain)) return false;
            if (_nftTproxyChains.Contains(chain)) return true;
            return _nftJumps.TryGetValue(chain, out List<string> targets) && targets.Any(t => ReachesTproxy(t, visited));
        }

        /// <summary>Only the mangle table's part (the write's read-back lists just that).</summary>
        public static ProxyCapture ParseMangle(string iptablesSave) => Parse("@mangle\n" + iptablesSave);

        private void ParseMangleLine(string line, ref bool preroutingSeen)
        {
            if (line.StartsWith(":" + ProxyExemption.Chain + " ", StringComparison.Ordinal)) HasExemptionChain = true;
            if (!line.StartsWith("-A ", StringComparison.Ordinal)) return;
            if (line.StartsWith("-A " + ProxyExemption.Chain + " ", StringComparison.Ordinal))
            {
                ExemptionRules.Add(line);
                return;
            }

            if (line.StartsWith("-A PREROUTING ", StringComparison.Ordinal))
            {
                bool jump = line == "-A PREROUTING -j " + ProxyExemption.Chain;
                if (jump)
                {
                    ExemptionJumps++;
                    if (!preroutingSeen) ExemptionJumpFirst = true;
                }

                preroutingSeen = true;
            }

            if (line.Contains(" -j TPROXY")) IptablesTproxyRules.Add(line);
            string[] words = line.Split(' ');
            string mark = After(words, "--set-xmark") ?? After(words, "--set-mark");
            if (line.Contains(" -j MARK ") && mark != null) _marks.Add(PolicyRule.MarkValue(mark));
        }

        // "local default dev lo table 100 scope host" is TPROXY's table (packets delivered to the local
        // socket); "default dev tun0 table 2022" (or the two halves 0.0.0.0/1 and 128.0.0.0/1) a tunnel's.
        private static void ClassifyRoute(string line, Dictionary<string, string> tunnelTables, HashSet<string> tproxyTables)
        {
            string[] words = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            string table = After(words, "table");
            string device = After(words, "dev");
            if (table == null || device == null || words.Length == 0) return;
            if (words[0] == "local" && device == "lo")
            {
                tproxyTables.Add(table);
                return;
            }

            string destination = words[0];
            if ((destination == "default" || destination == "0.0.0.0/0" || destination == "0.0.0.0/1" || destination == "128.0.0.0/1") && device != "lo")
                tunnelTables[table] = device;
        }

        internal static string After(string[] words, string key)
        {
            for (int i = 0; i + 1 < words.Length; i++)
                if (words[i] == key) return words[i + 1];
            return null;
        }

        /// <summary>One line for -Verbose: what captures LAN traffic on this router.</summary>
        public string Describe()
        {
            var parts = new List<string>();
            if (IptablesTproxyRules.Count > 0) parts.Add($"{IptablesTproxyRules.Count} TPROXY rule(s) in the iptables mangle table");
            if (NftablesTproxyTables.Count > 0) parts.Add("tproxy in nftables table(s) " + string.Join(", ", NftablesTproxyTables));
            if (MarkedTunnelRules.Count > 0) parts.Add("iptables mangle marks routed into a tunnel (" + string.Join("; ", MarkedTunnelRules.Select(r => $"ip rule {r.Priority}: {r.Selector} -> {r.Device}")) + ")");
            if (TunnelRules.Count > 0) parts.Add("policy routing into a tunnel (" + string.Join("; ", TunnelRules.Select(r => $"ip rule {r.Priority}: {r.Selector} -> {r.Device}")) + ")");
            string text = parts.Count == 0 ? "no transparent proxy in TPROXY or TUN mode" : "a transparent proxy captures LAN traffic: " + string.Join("; ", parts);
            return !MangleRefused ? text : text + " (the iptables mangle table could not be listed, so TPROXY rules there were not looked for; with -Sudo the login must be allowed iptables-save)";
        }
    }
}
