using System;
using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Backends.Iptables
{
    /// <summary>
    /// What ip6tables-save printed for a hop's tables (<see cref="Ipv6Pinholes.ReadScript(string, RouterRole)"/>):
    /// for each of BypassNat's chains whether it exists, its rules, and how its built-in chain jumps to it.
    /// </summary>
    public sealed class Ipv6State
    {
        public static readonly Ipv6State Empty = new Ipv6State(true, new Dictionary<string, Ipv6ChainState>(), new string[0]);

        private static readonly string[] Owned = { Ipv6Pinholes.ForwardChain, Ipv6Pinholes.RawChain, Ipv6Pinholes.ProxyChain };

        private readonly IReadOnlyDictionary<string, Ipv6ChainState> _chains;

        private Ipv6State(bool hasTool, IReadOnlyDictionary<string, Ipv6ChainState> chains, IReadOnlyList<string> nftForwardDrops)
        {
            HasTool = hasTool;
            _chains = chains;
            NftForwardDrops = nftForwardDrops;
        }

        /// <summary>
        /// Native nftables tables (inet or ip6, not iptables-nft's own ip6 filter) with a forward-hook chain
        /// whose policy is drop: the main router's IPv6 inbound policy may live there.
        /// </summary>
        public IReadOnlyList<string> NftForwardDrops { get; }

        /// <summary>The same as "family table chain": where a rule that opens a port would go.</summary>
        public IReadOnlyList<string> NftForwardDropChains { get; private set; } = new string[0];

        /// <summary>Why ip6tables could not be listed (a sudo login not allowed ip6tables-save); null when it was.</summary>
        public string Problem { get; private set; }

        /// <summary>A listing that failed: nothing of BypassNat's known, and IPv6 forwards refused (see <see cref="Ipv6Pinholes.For"/>).</summary>
        public static Ipv6State Unreadable(string why) =>
            new Ipv6State(true, new Dictionary<string, Ipv6ChainState>(), new string[0]) { Problem = string.IsNullOrWhiteSpace(why) ? "the listing failed" : why.Trim() };

        /// <summary>Whether the router has ip6tables-save (and so ip6tables-restore).</summary>
        public bool HasTool { get; }

        public Ipv6ChainState Chain(string name) => _chains.TryGetValue(name, out Ipv6ChainState chain) ? chain : Ipv6ChainState.Absent;

        /// <summary>
        /// Each forward's IPv6 part as BypassNat's rules hold it (Get-BypassForward): the device's identifier
        /// or address, and the clients (the main router's -s, the bypass router's -d), by the forward's name.
        /// </summary>
        public IReadOnlyDictionary<string, (Ipv6Host Host, Ipv6SourceSet Sources)> Forwards()
        {
            var hosts = new Dictionary<string, Ipv6Host>(StringComparer.Ordinal);
            var sources = new Dictionary<string, List<Ipv6Prefix>>(StringComparer.Ordinal);
            // Every chain: the bypass router's two say the same, and either may be the one left after a flush.
            foreach (KeyValuePair<string, Ipv6ChainState> chain in _chains)
                foreach (string rule in chain.Value.Rules)
                {
                    bool main = chain.Key == Ipv6Pinholes.ForwardChain;
                    RuleComment comment = RuleComment.TryDecode(Word(rule, "--comment")?.Trim('"'));
                    Ipv6Host host = Host(Word(rule, main ? "-d" : "-s"));
                    if (comment == null || host == null) continue;
                    if (!hosts.ContainsKey(comment.Name)) hosts[comment.Name] = host;
                    if (!sources.TryGetValue(comment.Name, out List<Ipv6Prefix> list)) sources[comment.Name] = list = new List<Ipv6Prefix>();
                    string client = Word(rule, main ? "-s" : "-d");
                    if (client != null && Ipv6Prefix.Problem(client.EndsWith("/128", StringComparison.Ordinal) ? client.Substring(0, client.Length - 4) : client, out Ipv6Prefix prefix) == null
                        && !list.Any(p => p.ToString() == prefix.ToString()))
                        list.Add(prefix);
                }

            return hosts.ToDictionary(h => h.Key, h => (h.Value, Ipv6SourceSet.Of(sources[h.Key])), StringComparer.Ordinal);
        }

        /// <summary>
        /// The IPv6-only forwards (no InternalAddress) as their rules hold them: a comment with the bypass
        /// address (via=) marks them; the protocol is what their rules match, the ports their ExternalPort.
        /// </summary>
        public IReadOnlyList<BypassForward> Ipv6OnlyForwards()
        {
            IReadOnlyDictionary<string, (Ipv6Host Host, Ipv6SourceSet Sources)> parts = Forwards();
            var found = new Dictionary<string, (RuleComment Comment, bool Tcp, bool Udp)>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, Ipv6ChainState> chain in _chains)
                foreach (string rule in chain.Value.Rules)
                {
                    RuleComment comment = RuleComment.TryDecode(Word(rule, "--comment")?.Trim('"'));
                    if (comment?.Via == null || !parts.ContainsKey(comment.Name)) continue;
                    found.TryGetValue(comment.Name, out var seen);
                    string transport = Word(rule, "-p");
                    found[comment.Name] = (comment, seen.Tcp || transport == "tcp", seen.Udp || transport == "udp");
                }

            return found.Where(f => f.Value.Tcp || f.Value.Udp).Select(f =>
            {
                RuleComment c = f.Value.Comment;
                ForwardProtocol protocol = f.Value.Tcp && f.Value.Udp ? ForwardProtocol.TcpUdp : f.Value.Tcp ? ForwardProtocol.Tcp : ForwardProtocol.Udp;
                return new BypassForward(c.Name, protocol, c.ExternalPort, c.Via, c.ExternalPort, null, c.ExternalPort, comment: c.Comment,
                    internalIPv6: parts[c.Name].Host, allowedSourceIPv6: parts[c.Name].Sources);
            }).ToList();
        }

        private static Ipv6Host Host(string match)
        {
            if (match == null) return null;
            int slash = match.IndexOf('/');
            return Ipv6Host.Parse(slash < 0 ? match : match.Substring(0, slash), out _);
        }

        // The word after the option in an ip6tables-save line.
        private static string Word(string rule, string option)
        {
            string[] words = rule.Split(' ');
            int at = Array.IndexOf(words, option);
            // BypassNat's comments have no spaces, so a comment is one word too.
            return at < 0 || at + 1 >= words.Length ? null : words[at + 1];
        }

        public static Ipv6State Parse(string output)
        {
            var chains = new Dictionary<string, Ipv6ChainState>(StringComparer.Ordinal);
            bool hasTool = true;
            var hooks = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            string table = null, nftTable = null, nftChain = null;
            var dropChains = new List<string>();
            bool inNft = false;
            var drops = new List<string>();
            foreach (string raw in (output ?? string.Empty).Split('\n'))
            {
                string line = raw.TrimEnd('\r');
                if (line == "@nftchains") inNft = true;
                else if (line.StartsWith("@", StringComparison.Ordinal)) inNft = false;
                if (inNft)
                {
                    string trimmed = line.Trim();
                    if (trimmed.StartsWith("table ", StringComparison.Ordinal)) nftTable = trimmed.Substring(6).TrimEnd('{', ' ');
                    else if (trimmed.StartsWith("chain ", StringComparison.Ordinal)) nftChain = trimmed.Substring(6).TrimEnd('{', ' ');
                    else if (nftTable != null && trimmed.Contains("hook forward") && trimmed.Contains("policy drop")
                             && (nftTable.StartsWith("inet ", StringComparison.Ordinal) || nftTable.StartsWith("ip6 ", StringComparison.Ordinal)) && nftTable != "ip6 filter")
                    {
                        if (!drops.Contains(nftTable)) drops.Add(nftTable);
                        if (nftChain != null) dropChains.Add(nftTable + " " + nftChain);
                    }

                    continue;
                }

                if (line == "ip6tables=missing") hasTool = false;
                else if (line.StartsWith("*", StringComparison.Ordinal)) table = line.Substring(1);
                else if (line.StartsWith(":", StringComparison.Ordinal))
                {
                    string name = line.Substring(1).Split(' ')[0];
                    if (Owned.Contains(name)) State(chains, name).Exists = true;
                }
                else if (line.StartsWith("-A ", StringComparison.Ordinal))
                {
                    string[] words = line.Split(' ');
                    string chain = words.Length > 1 ? words[1] : string.Empty;
                    if (Owned.Contains(chain)) State(chains, chain).RuleList.Add(line);
                    else if (table != null && (chain == "FORWARD" || chain == "PREROUTING"))
                    {
                        string key = table + " " + chain;
                        if (!hooks.TryGetValue(key, out List<string> list)) hooks[key] = list = new List<string>();
                        list.Add(line);
                    }
                }
            }

            foreach (KeyValuePair<string, List<string>> hook in hooks)
                foreach (string name in Owned)
                {
                    string jump = $"-A {hook.Key.Split(' ')[1]} -j {name}";
                    int count = hook.Value.Count(l => l == jump);
                    if (count == 0) continue;
                    Ipv6ChainState state = State(chains, name);
                    state.Jumps += count;
                    state.JumpFirst = hook.Value[0] == jump;
                }

            return new Ipv6State(hasTool, chains, drops) { NftForwardDropChains = dropChains };
        }

        private static Ipv6ChainState State(Dictionary<string, Ipv6ChainState> chains, string name)
        {
            if (!chains.TryGetValue(name, out Ipv6ChainState state)) chains[name] = state = new Ipv6ChainState();
            return state;
        }
    }

    /// <summary>One of BypassNat's ip6tables chains as read.</summary>
    public sealed class Ipv6ChainState
    {
        public static readonly Ipv6ChainState Absent = new Ipv6ChainState();

        internal List<string> RuleList { get; } = new List<string>();

        public bool Exists { get; internal set; }
        public IReadOnlyList<string> Rules => RuleList;
        public int Jumps { get; internal set; }
        public bool JumpFirst { get; internal set; }
    }
}
