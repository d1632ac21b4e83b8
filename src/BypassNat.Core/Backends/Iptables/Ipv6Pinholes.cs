using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace BypassNat.Backends.Iptables
{
    /// <summary>
    /// The IPv6 half of the forwards (InternalIPv6), written with ip6tables. IPv6 has no NAT here: the main
    /// router routes the delegated prefix to the LAN and lets nothing new in, and the device's IPv6 gateway is
    /// the bypass router, which never sees the inbound packets, only the device's replies.
    /// </summary>
    /// <remarks>
    /// On the main router: a pinhole in the filter table's FORWARD, where a Linux router's (and
    /// iptables-nft's) IPv6 inbound policy lives: chain <c>BYPASSNAT6_FORWARD</c>, jumped to first, one ACCEPT
    /// a forward, protocol and allowed source, to the device's interface identifier (ip6tables takes the
    /// non-contiguous mask <c>::ffff:ffff:ffff:ffff</c>) and port.
    /// On the bypass router the device's replies must get past two things: conntrack, which has not seen the
    /// connection and calls the SYN-ACK INVALID (dropped in FORWARD by every proxy set-up), and a TPROXY
    /// proxy in mangle PREROUTING, which takes anything from the LAN to the internet. So the replies are
    /// taken out of conntrack in the raw table (<c>BYPASSNAT6_RAW</c>: CT --notrack; an untracked packet is
    /// not INVALID), and accepted first in mangle PREROUTING (<c>BYPASSNAT6_PROXY</c>: ACCEPT ends that
    /// table's chain, so the proxy's TPROXY after it never sees them), matching only untracked packets from
    /// the device's identifier and port: the LAN's own IPv6 traffic, the device's included, is still proxied.
    /// Both match by interface identifier, so a new delegated prefix needs no re-apply.
    /// </remarks>
    public sealed class Ipv6Pinholes
    {
        public const string ForwardChain = "BYPASSNAT6_FORWARD";
        public const string RawChain = "BYPASSNAT6_RAW";
        public const string ProxyChain = "BYPASSNAT6_PROXY";
        public const string PinholeRole = "pinhole";
        public const string ReplyRole = "reply6";

        private readonly IReadOnlyList<Ipv6Chain> _chains;

        // The enabled forwards with InternalIPv6, in the router's order.
        private readonly IReadOnlyList<BypassForward> _forwards;

        private Ipv6Pinholes(RouterRole role, Ipv6State state, IReadOnlyList<Ipv6Chain> chains, IReadOnlyList<BypassForward> forwards)
        {
            Role = role;
            State = state;
            _chains = chains;
            _forwards = forwards;
        }

        public RouterRole Role { get; }

        public Ipv6State State { get; }

        /// <summary>The chains of this hop, each with its rules as they should be (empty: the chain should not exist).</summary>
        public IReadOnlyList<Ipv6Chain> Chains => _chains;

        /// <summary>
        /// The IPv6 rules for <paramref name="desired"/> on a router of <paramref name="role"/> whose ip6tables
        /// read as <paramref name="state"/>. Refuses, before anything changes, IPv6 forwards on a router
        /// without ip6tables.
        /// </summary>
        public static Ipv6Pinholes For(RouterRole role, Ipv6State state, IEnumerable<BypassForward> desired, string router)
        {
            state = state ?? Ipv6State.Empty;
            List<BypassForward> forwards = BypassForward.InRouterOrder(desired.Where(f => f.Enabled && f.InternalIPv6 != null)).ToList();
            if (forwards.Count > 0 && !state.HasTool)
                throw new BypassNatException("BypassNat.Ipv6NotSupported", FailureKind.NotInstalled,
                    $"{forwards.Count} forward(s) have InternalIPv6 ({string.Join(", ", forwards.Select(f => f.Name))}), but {router} has no ip6tables-save/ip6tables-restore, " +
                    "which BypassNat writes these IPv6 rules with (an OpenWrt main router takes them as UCI traffic rules with -Backend Uci; elsewhere Get-BypassForwardPlan shows the rules to enter). Nothing was changed.",
                    router);
            if (forwards.Count > 0 && state.Problem != null)
                throw new BypassNatException("BypassNat.Ipv6NotSupported", FailureKind.PermissionDenied,
                    $"{forwards.Count} forward(s) have InternalIPv6 ({string.Join(", ", forwards.Select(f => f.Name))}), but BypassNat could not list ip6tables on {router} ({state.Problem}). " +
                    "A login through sudo must be allowed ip6tables-save and ip6tables-restore too. Nothing was changed.",
                    router);
            var chains = role == RouterRole.Main
                ? new[] { new Ipv6Chain("filter", "FORWARD", ForwardChain, MainRules(forwards)) }
                : new[] { new Ipv6Chain("raw", "PREROUTING", RawChain, BypassRules(forwards, raw: true)), new Ipv6Chain("mangle", "PREROUTING", ProxyChain, BypassRules(forwards, raw: false)) };
            return new Ipv6Pinholes(role, state, chains, forwards);
        }

        /// <summary>The hop's chains with no rules wanted: their table, hook and name (what the router-side scripts walk).</summary>
        private static IReadOnlyList<Ipv6Chain> ChainsOf(RouterRole role) => For(role, Ipv6State.Empty, new BypassForward[0], string.Empty).Chains;

        // The port is ExternalPort: on IPv6 InternalPort must equal it (no NAT), and the main hop's projection
        // of a forward (InternalPort = BypassPort) keeps ExternalPort as it is.

        /// <summary>The main router's pinholes, as ip6tables-save prints them back.</summary>
        public static IReadOnlyList<string> MainRules(IEnumerable<BypassForward> forwards)
        {
            var rules = new List<string>();
            foreach (BypassForward forward in forwards)
            {
                string comment = Comment(forward, PinholeRole);
                foreach (string transport in forward.Transports)
                    foreach (string source in Sources(forward))
                        rules.Add($"-A {ForwardChain}{source} -d {forward.InternalIPv6.IptablesMatch} -p {transport} -m {transport} --dport {IptablesRenderer.Ports(forward.ExternalPort)}" +
                                  $" -m comment --comment \"{comment}\" -j ACCEPT");
            }

            return rules;
        }

        /// <summary>The bypass router's exemption of the replies: raw (no conntrack) or mangle (past the proxy).</summary>
        public static IReadOnlyList<string> BypassRules(IEnumerable<BypassForward> forwards, bool raw)
        {
            var rules = new List<string>();
            foreach (BypassForward forward in forwards)
            {
                string comment = Comment(forward, ReplyRole);
                foreach (string transport in forward.Transports)
                    foreach (string client in Sources(forward).Select(s => s.Replace(" -s ", " -d ")))
                        rules.Add(raw
                            ? $"-A {RawChain} -s {forward.InternalIPv6.IptablesMatch}{client} -p {transport} -m {transport} --sport {IptablesRenderer.Ports(forward.ExternalPort)}" +
                              $" -m comment --comment \"{comment}\" -j CT --notrack"
                            : $"-A {ProxyChain} -s {forward.InternalIPv6.IptablesMatch}{client} -p {transport} -m {transport} --sport {IptablesRenderer.Ports(forward.ExternalPort)}" +
                              $" -m conntrack --ctstate UNTRACKED -m comment --comment \"{comment}\" -j ACCEPT");
            }

            return rules;
        }

        // A forward with an IPv4 half keeps its note and bypass address in its nat rules; an IPv6-only one has
        // only these rules, so they carry both (via=, note=), for Get-BypassForward to read it back whole.
        internal static string Comment(BypassForward forward, string role) => forward.HasIpv4
            ? RuleComment.For(forward, role).WithoutNote().Encode()
            : new RuleComment(forward.Name, forward.ExternalPort, forward.Comment, role, forward.BypassAddress).Encode();

        // " -s PREFIX" a client network, or one "" for every client.
        private static IEnumerable<string> Sources(BypassForward forward) =>
            forward.AllowedSourceIPv6.IsAny ? new[] { string.Empty } : forward.AllowedSourceIPv6.Select(p => " -s " + (p.Length == 128 ? p.Network + "/128" : p.ToString()));

        /// <summary>Whether this hop's ip6tables hold anything of BypassNat's, or should.</summary>
        public bool Relevant => _chains.Any(c => c.Wanted.Count > 0 || State.Chain(c.Name).Exists || State.Chain(c.Name).Jumps > 0);

        public bool InPlace => _chains.All(c => c.InPlace(State));

        public bool NeedsWrite => Relevant && !InPlace;

        /// <summary>The number of rules wanted on this hop.</summary>
        public int RuleCount => _chains.Sum(c => c.Wanted.Count);

        /// <summary>What ip6tables-save prints for the hop's tables, in sections the parser tells apart.</summary>
        public static string ReadScript(string privileged, RouterRole role)
        {
            var s = new StringBuilder("command -v ip6tables-save >/dev/null 2>&1 || { echo 'ip6tables=missing'; exit 0; }\n");
            foreach (string table in role == RouterRole.Main ? new[] { "filter" } : new[] { "raw", "mangle" })
                s.Append("echo '@").Append(table).Append("'\nLC_ALL=C ").Append(privileged).Append("ip6tables-save -t ").Append(table).Append(" || exit 1\n");
            // A forward policy in a native nftables table (firewall4's inet fw4) is one ip6tables cannot override.
            if (role == RouterRole.Main)
                s.Append("echo '@nftchains'\ncommand -v nft >/dev/null 2>&1 && ").Append(privileged).Append("nft list chains 2>/dev/null\ntrue\n");
            return s.ToString();
        }

        public string ReadScript(string privileged) => ReadScript(privileged, Role);

        /// <summary>
        /// One ip6tables-restore for the hop's tables: each chain emptied and refilled and its jump made the
        /// first rule of its built-in chain, or (nothing wanted) the jumps and the chain deleted. Exits 3 when
        /// the kernel refuses it.
        /// </summary>
        public string Script(string privileged)
        {
            var text = new StringBuilder();
            foreach (Ipv6Chain chain in _chains)
            {
                Ipv6ChainState now = State.Chain(chain.Name);
                if (chain.Wanted.Count == 0 && !now.Exists && now.Jumps == 0) continue;
                text.Append('*').Append(chain.Table).Append('\n');
                bool jumpRight = now.Jumps == 1 && now.JumpFirst;
                if (chain.Wanted.Count == 0 || !jumpRight)
                    for (int i = 0; i < now.Jumps; i++) text.Append($"-D {chain.Hook} -j {chain.Name}\n");
                if (chain.Wanted.Count == 0)
                {
                    if (now.Exists) text.Append($"-F {chain.Name}\n-X {chain.Name}\n");
                }
                else
                {
                    text.Append($":{chain.Name} - [0:0]\n-F {chain.Name}\n");
                    foreach (string rule in chain.Wanted) text.Append(rule).Append('\n');
                    if (!jumpRight) text.Append($"-I {chain.Hook} 1 -j {chain.Name}\n");
                }

                text.Append("COMMIT\n");
            }

            return privileged + "ip6tables-restore --noflush --wait 10 <<'BYPASSNAT_RULES' || exit 3\n" + text + "BYPASSNAT_RULES\n";
        }

        /// <summary>Null when the read-back holds exactly the wanted rules; otherwise what differs.</summary>
        public string Verify(string readBack)
        {
            Ipv6State after = Ipv6State.Parse(readBack);
            foreach (Ipv6Chain chain in _chains.Where(c => !c.InPlace(after)))
            {
                Ipv6ChainState now = after.Chain(chain.Name);
                if (chain.Wanted.Count == 0) return $"the chain {chain.Name} or its jump is still in the {chain.Table} table";
                if (now.Jumps != 1 || !now.JumpFirst) return $"the jump to {chain.Name} is not the first rule of {chain.Table} {chain.Hook} ({now.Jumps} jump(s))";
                return $"{chain.Name} holds {now.Rules.Count} rule(s), expected {chain.Wanted.Count}";
            }

            return null;
        }

        /// <summary>
        /// Why the main router's pinholes may not open anything: the IPv6 forward policy also drops in a
        /// native nftables table, and an accept in ip6tables (iptables-nft's <c>ip6 filter</c>) does not end
        /// another table's chain. Null when there is no such table, or nothing to open.
        /// </summary>
        public string Warning(string router)
        {
            if (Role != RouterRole.Main || RuleCount == 0 || State.NftForwardDrops.Count == 0) return null;
            return $"On {router} the IPv6 forward policy also drops in the nftables table(s) {string.Join(", ", State.NftForwardDrops.Select(t => "'" + t + "'"))}: " +
                   $"BypassNat opened the ports in ip6tables ({ForwardChain}), and an accept there does not override another table's drop, so the IPv6 forwards may stay closed. " +
                   "Open them in that table's forward chain (on OpenWrt a traffic rule: family ipv6, dest_ip '::ID/-64', the port; see docs/ipv6.md and Get-BypassForwardPlan's MainIPv6 entries)" +
                   (State.NftForwardDropChains.Count == 0 ? "." : ", in that firewall's own configuration so that its reload keeps them, such as:\n" + string.Join("\n", NftOpenings()));
        }

        // BypassNat does not write into a table it does not own: the firewall that owns it rewrites it on
        // every reload, and a rule of ours there would be lost or, worse, duplicated. So these are advice.
        private IEnumerable<string> NftOpenings() =>
            State.NftForwardDropChains.SelectMany(chain => _forwards.SelectMany(f => f.Transports.Select(t =>
                $"    nft insert rule {chain} {(f.AllowedSourceIPv6.IsAny ? "" : "ip6 saddr { " + string.Join(", ", f.AllowedSourceIPv6.Select(p => p.ToString())) + " } ")}" +
                $"{f.InternalIPv6.NftMatch("daddr")} {t} dport {f.ExternalPort} accept comment \"{Comment(f, PinholeRole)}\"")));

        /// <summary>The rules wanted on this hop, one a line: -Persist's saved copy (empty: none).</summary>
        public string Saved => string.Concat(_chains.SelectMany(c => c.Wanted).Select(r => r + "\n"));

        /// <summary>The rules the hop held when read, one a line: what a rollback puts back.</summary>
        public string SavedBefore => string.Concat(_chains.SelectMany(c => State.Chain(c.Name).Rules).Select(r => r + "\n"));

        /// <summary>
        /// Shell functions, for scripts that run on the router later (restore.sh, the -ConfirmTimeout watchdog)
        /// and so cannot know what the chains will hold then: <c>bypassnat_ip6_in_place</c> (exit 0 when the
        /// chains hold as many rules as the saved ones on stdin and each jump is first) and
        /// <c>bypassnat_ip6_put</c> (puts the chains to exactly the rules on stdin, their jumps first, in one
        /// ip6tables-restore; no rules: the chains and jumps deleted). A router without ip6tables has nothing to put.
        /// </summary>
        public static string Functions(string p, RouterRole role)
        {
            string specs = string.Join(" ", ChainsOf(role).Select(c => $"{c.Table}:{c.Hook}:{c.Name}"));
            const string Split = "    t=${spec%%:*}; rest=${spec#*:}; h=${rest%%:*}; c=${rest#*:}\n" +
                                 "    n=$(printf '%s\\n' \"$rules\" | grep -c \"^-A $c \" || true)\n";
            return
                "bypassnat_ip6_in_place() {\n" +
                "  rules=$(cat)\n" +
                "  command -v ip6tables >/dev/null 2>&1 || return 0\n" +
                $"  for spec in {specs}; do\n" +
                Split +
                $"    [ \"$({p}ip6tables -t \"$t\" -S \"$c\" 2>/dev/null | grep -c '^-A' || true)\" = \"$n\" ] || return 1\n" +
                $"    [ \"$n\" = 0 ] || [ \"$({p}ip6tables -t \"$t\" -S \"$h\" 2>/dev/null | sed -n 2p)\" = \"-A $h -j $c\" ] || return 1\n" +
                "  done\n" +
                "}\n" +
                "bypassnat_ip6_put() {\n" +
                "  rules=$(cat)\n" +
                "  command -v ip6tables-restore >/dev/null 2>&1 || return 0\n" +
                "  {\n" +
                $"  for spec in {specs}; do\n" +
                Split +
                $"    jumps=$({p}ip6tables -t \"$t\" -S \"$h\" 2>/dev/null | grep -c -x -e \"-A $h -j $c\" || true)\n" +
                $"    if {p}ip6tables -t \"$t\" -S \"$c\" >/dev/null 2>&1; then exists=1; else exists=0; fi\n" +
                "    [ \"$n\" -gt 0 ] || [ \"$jumps\" -gt 0 ] || [ \"$exists\" = 1 ] || continue\n" +
                "    echo \"*$t\"\n" +
                "    while [ \"$jumps\" -gt 0 ]; do echo \"-D $h -j $c\"; jumps=$((jumps - 1)); done\n" +
                "    if [ \"$n\" -gt 0 ]; then\n" +
                "      echo \":$c - [0:0]\"; echo \"-F $c\"\n" +
                "      printf '%s\\n' \"$rules\" | grep \"^-A $c \"\n" +
                "      echo \"-I $h 1 -j $c\"\n" +
                "    elif [ \"$exists\" = 1 ]; then echo \"-F $c\"; echo \"-X $c\"; fi\n" +
                "    echo COMMIT\n" +
                "  done\n" +
                $"  }} | {p}ip6tables-restore --noflush --wait 10\n" +
                "}\n";
        }

        /// <summary>A script that puts the hop's chains back to what they held when read (the -ConfirmTimeout rollback).</summary>
        public string RollbackScript(string p) =>
            Functions(p, Role) + "bypassnat_ip6_put <<'BYPASSNAT_IP6'\n" + SavedBefore + "BYPASSNAT_IP6\n";

        /// <summary>
        /// How the hop's IPv6 rules differ from the wanted ones, by forward (Test-BypassForward): name (null for a
        /// chain's jump that is missing or not first, which concerns them all) and what differs.
        /// </summary>
        public IReadOnlyList<KeyValuePair<string, string>> Drift()
        {
            var drift = new List<KeyValuePair<string, string>>();
            foreach (Ipv6Chain chain in _chains)
            {
                Ipv6ChainState now = State.Chain(chain.Name);
                ILookup<string, string> wanted = chain.Wanted.ToLookup(NameOf);
                ILookup<string, string> held = now.Rules.ToLookup(NameOf);
                string where = Role == RouterRole.Main ? $"the IPv6 pinhole ({chain.Name})" : $"the IPv6 reply exemption ({chain.Name})";
                foreach (string name in wanted.Select(g => g.Key).Concat(held.Select(g => g.Key)).Distinct())
                {
                    List<string> want = wanted[name].ToList(), have = held[name].ToList();
                    if (want.SequenceEqual(have)) continue;
                    string detail = have.Count == 0 ? $"{where} is missing"
                        : want.Count == 0 ? $"{where} is on the router, not in the input"
                        : $"{where} differs: {string.Join("; ", have)} -> {string.Join("; ", want)}";
                    drift.Add(new KeyValuePair<string, string>(name, detail));
                }

                if (chain.Wanted.Count > 0 && (now.Jumps != 1 || !now.JumpFirst))
                    drift.Add(new KeyValuePair<string, string>(null, $"the jump to {chain.Name} is not the first rule of ip6tables {chain.Table} {chain.Hook} ({now.Jumps} jump(s)), so its IPv6 rules may not take effect"));
            }

            // One item a forward, however many of the hop's chains differ for it.
            return drift.GroupBy(d => d.Key).SelectMany(g => g.Key == null ? g.ToList()
                : new List<KeyValuePair<string, string>> { new KeyValuePair<string, string>(g.Key, string.Join("; ", g.Select(d => d.Value))) }).ToList();
        }

        /// <summary>
        /// Whether this hop holds <paramref name="forward"/>'s IPv6 rules as BypassNat writes them, jumped to first
        /// (Debug-BypassForward), and what it found; the forward as read back, with its InternalIPv6.
        /// </summary>
        public static bool Holds(RouterRole role, Ipv6State state, BypassForward forward, out string detail)
        {
            Ipv6Pinholes one = For(role, state, new[] { forward }, string.Empty);
            var missing = new List<string>();
            foreach (Ipv6Chain chain in one._chains)
            {
                Ipv6ChainState now = state.Chain(chain.Name);
                List<string> held = now.Rules.Where(r => NameOf(r) == forward.Name).ToList();
                if (!held.SequenceEqual(chain.Wanted)) missing.Add(held.Count == 0 ? $"no rule in {chain.Name}" : $"its rules in {chain.Name} differ from what BypassNat writes");
                else if (now.Jumps != 1 || !now.JumpFirst) missing.Add($"{chain.Name} is not jumped to first from ip6tables {chain.Table} {chain.Hook}");
            }

            string what = role == RouterRole.Main ? $"the IPv6 pinhole to {forward.InternalIPv6} port {forward.ExternalPort}" : $"the exemption of {forward.InternalIPv6} port {forward.ExternalPort}'s IPv6 replies";
            detail = missing.Count == 0
                ? what + " is in place (" + string.Join(", ", one._chains.Select(c => c.Name)) + ", jumped to first)"
                : what + " is broken: " + string.Join("; ", missing) + ": apply again";
            return missing.Count == 0;
        }

        // The forward a rule belongs to, by its comment; "" for a rule BypassNat did not write.
        private static string NameOf(string rule)
        {
            int at = rule.IndexOf("--comment \"", StringComparison.Ordinal);
            if (at < 0) return string.Empty;
            int start = at + "--comment \"".Length, end = rule.IndexOf('"', start);
            return end < 0 ? string.Empty : RuleComment.TryDecode(rule.Substring(start, end - start))?.Name ?? string.Empty;
        }

        /// <summary>
        /// The hop's IPv6 rules for ConvertTo-BypassRuleset: ip6tables commands to paste (<paramref name="shell"/>),
        /// or the ip6tables-restore input commented out, to follow a file that nft or iptables-restore loads.
        /// </summary>
        public string Render(bool shell)
        {
            var text = new StringBuilder();
            text.Append(Role == RouterRole.Main
                ? "# IPv6 (InternalIPv6): pinholes in the main router's IPv6 firewall, by interface identifier; written with ip6tables whatever the backend.\n"
                : "# IPv6 (InternalIPv6): the devices' replies taken out of conntrack and past the proxy, by interface identifier; written with ip6tables whatever the backend.\n");
            if (!shell) text.Append("# Load with: ip6tables-restore --noflush (without the leading '# ').\n");
            foreach (Ipv6Chain chain in _chains.Where(c => c.Wanted.Count > 0))
            {
                if (shell)
                {
                    text.Append($"ip6tables -t {chain.Table} -N {chain.Name} 2>/dev/null || ip6tables -t {chain.Table} -F {chain.Name}\n");
                    foreach (string rule in chain.Wanted) text.Append($"ip6tables -t {chain.Table} {rule}\n");
                    text.Append($"ip6tables -t {chain.Table} -C {chain.Hook} -j {chain.Name} 2>/dev/null || ip6tables -t {chain.Table} -I {chain.Hook} 1 -j {chain.Name}\n");
                }
                else
                {
                    text.Append($"# *{chain.Table}\n# :{chain.Name} - [0:0]\n");
                    foreach (string rule in chain.Wanted) text.Append("# ").Append(rule).Append('\n');
                    text.Append($"# -I {chain.Hook} 1 -j {chain.Name}\n# COMMIT\n");
                }
            }

            return text.ToString();
        }

        /// <summary>The plan's line for this hop's IPv6 rules.</summary>
        public string Describe() => RuleCount == 0
            ? "  ipv6     remove BypassNat's IPv6 rules (" + string.Join(", ", _chains.Select(c => c.Name)) + ")"
            : Role == RouterRole.Main
                ? $"  ipv6     open the IPv6 firewall to the devices' interface identifiers ({RuleCount} rule(s) in {ForwardChain}, jumped to first from FORWARD)"
                : $"  ipv6     let the devices' IPv6 replies past conntrack and the proxy ({RuleCount / 2} rule(s) each in {RawChain} and {ProxyChain}, jumped to first)";

        /// <summary>For the apply's result; null when the hop has no IPv6 rules.</summary>
        public string Summary => RuleCount == 0 ? null
            : Role == RouterRole.Main
                ? $"pinholes in ip6tables filter FORWARD ({ForwardChain}, {RuleCount} rule(s))"
                : $"replies untracked and exempted from the proxy ({RawChain} and {ProxyChain}, {RuleCount / 2} rule(s) each)";
    }

    /// <summary>One of BypassNat's ip6tables chains: its table, the built-in chain that jumps to it first, and its rules as wanted.</summary>
    public sealed class Ipv6Chain
    {
        public Ipv6Chain(string table, string hook, string name, IReadOnlyList<string> wanted)
        {
            Table = table;
            Hook = hook;
            Name = name;
            Wanted = wanted;
        }

        public string Table { get; }
        public string Hook { get; }
        public string Name { get; }
        public IReadOnlyList<string> Wanted { get; }

        public bool InPlace(Ipv6State state)
        {
            Ipv6ChainState now = state.Chain(Name);
            return Wanted.Count == 0
                ? !now.Exists && now.Jumps == 0
                : now.Exists && now.Jumps == 1 && now.JumpFirst && now.Rules.SequenceEqual(Wanted);
        }
    }
}
