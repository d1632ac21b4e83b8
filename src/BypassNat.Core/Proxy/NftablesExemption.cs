using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace BypassNat.Proxy
{
    /// <summary>
    /// Keeps a native nftables tproxy proxy (OpenClash on firewall4, mihomo and sing-box nft scripts) from
    /// capturing the replies of BypassNat's forwards. An accept in BypassNat's own table does not end
    /// another table's chain on the same hook, and once tproxy has assigned its socket nothing later can
    /// undo it, so the exemption has to run inside the proxy's own path, before its tproxy statement:
    /// BypassNat inserts its rules at the top of each <c>type filter hook prerouting</c> base chain of the
    /// proxy's table from which a tproxy statement can be reached (directly or by jump/goto). An accept
    /// there ends that base chain only, for exactly these packets: from the forward's device address and
    /// port, reply direction, of a connection the router DNATed.
    /// </summary>
    /// <remarks>
    /// BypassNat owns nothing else in that table: no set, no chain, only rules whose comment starts with
    /// <c>bypassnat;</c>, found again by that comment and deleted by their handle. The proxy's restart
    /// recreates its table without them; -Persist's watcher (restore.sh) inserts them again.
    /// </remarks>
    public static class NftablesExemption
    {
        /// <summary>
        /// Reads <c>nft -a list table</c> of the tables <see cref="TablesAwk"/> picks (not BypassNat's own) into lines the workstation and
        /// the router's shell both read: <c>base F T C</c> (a filter base chain at the prerouting hook of an
        /// ip or inet table), <c>tproxy F T C</c>, <c>edge F T C TARGET</c> (a jump or goto),
        /// <c>own F T C HANDLE DISPLACED RULE</c> (BypassNat's rule; DISPLACED 1 when another rule comes
        /// before it), and at the end <c>@nft</c> with the tables that hold a tproxy statement.
        /// Each jump and tproxy chain once: a chain of thousands of rules jumping to one chain sends one line.
        /// </summary>
        internal const string ListAwk =
            "$1 == \"table\" { f = $2; t = $3; ours = (f == \"ip\" && (t == \"bypassnat\" || t == \"bypassnat_main\")); fit = (f == \"ip\" || f == \"inet\"); c = \"\"; next }\n" +
            "ours { next }\n" +
            "$1 == \"chain\" { c = $2; other = 0; next }\n" +
            "$1 == \"}\" { c = \"\"; next }\n" +
            "c == \"\" { next }\n" +
            "$1 == \"type\" { if (fit && $2 == \"filter\" && $3 == \"hook\" && $4 == \"prerouting\") print \"base \" f \" \" t \" \" c; next }\n" +
            "{\n" +
            "  line = $0; sub(/^[ \\t]+/, \"\", line); h = \"\"\n" +
            "  if (match(line, / # handle [0-9]+$/)) { h = substr(line, RSTART + 10); line = substr(line, 1, RSTART - 1) }\n" +
            "  if (index(line, \"comment \\\"" + RuleComment.Prefix + "\")) { print \"own \" f \" \" t \" \" c \" \" h \" \" other \" \" line; next }\n" +
            "  other = 1\n" +
            "  if (line ~ /(^| )tproxy /) { if (!((f \" \" t \" \" c) in tc)) { tc[f \" \" t \" \" c] = 1; print \"tproxy \" f \" \" t \" \" c }; tp[f \" \" t] = 1 }\n" +
            "  for (i = 1; i < NF; i++) if ($i == \"jump\" || $i == \"goto\") { g = $(i + 1); gsub(/[,}]/, \"\", g); e = f \" \" t \" \" c \" \" g; if (!(e in edges)) { edges[e] = 1; print \"edge \" e } }\n" +
            "}\n" +
            "END { print \"@nft\"; for (k in tp) print k }\n";

        /// <summary>
        /// Picks from <c>nft list chains</c> (chains without their rules: cheap) the ip and inet tables
        /// worth listing: not BypassNat's own, and not a table whose base chains are all of type nat
        /// (iptables-nft's nat table, which holds the iptables backend's forwards: listing it made a
        /// survey of 1,000 forwards 120 ms slower), where no tproxy can run. One "FAMILY:TABLE" a line.
        /// </summary>
        internal const string TablesAwk =
            "$1 == \"table\" { t = $2 \":\" $3; if (!(t in seen) && ($2 == \"ip\" || $2 == \"inet\")) { seen[t] = 1; order[++n] = t }; next }\n" +
            "$1 == \"type\" { if ($2 == \"nat\") nat[t] = 1; else other[t] = 1; next }\n" +
            "END { for (i = 1; i <= n; i++) { t = order[i]; if (t == \"ip:bypassnat\" || t == \"ip:bypassnat_main\" || (nat[t] && !other[t])) continue; print t } }\n";

        /// <summary>The survey's and the read-back's listing of the proxy's tables, read by <see cref="ListAwk"/>.</summary>
        public static string ListScript(string privileged) =>
            "for bypassnat_table in $(LC_ALL=C " + privileged + "nft list chains 2>/dev/null | awk '\n" + TablesAwk + "'); do " +
            "LC_ALL=C " + privileged + "nft -a list table \"${bypassnat_table%%:*}\" \"${bypassnat_table#*:}\" 2>/dev/null; done | awk '\n" + ListAwk + "'\n";

        /// <summary>
        /// A shell function, <c>bypassnat_nft_batch MODE WANTED</c>, that prints the nft batch which makes
        /// each chain named in WANTED (lines <c>F T C RULE</c>, or a bare <c>F T C</c> for a chain that
        /// should hold none) start with exactly those rules, in order: BypassNat's old rules there deleted
        /// by handle, the wanted ones inserted at the top; chains holding BypassNat's rules that WANTED
        /// does not name are emptied of them. With MODE <c>--if-missing</c> a chain whose count of
        /// BypassNat's rules is right and none of them displaced is left alone (the watcher's check). A
        /// chain that does not exist (the proxy is stopped) is skipped. Prints nothing when nothing is to do.
        /// </summary>
        public static string BatchFunction(string privileged) =>
            "bypassnat_nft_batch() {\n" +
            "  { " + ListScript(privileged).TrimEnd('\n') + "\n" +
            "    echo '@want'; printf '%s\\n' \"$2\"; } | awk -v mode=\"$1\" '\n" +
            "function note(k) { if (!(k in seen)) { seen[k] = 1; order[++n] = k } }\n" +
            "$0 == \"@want\" { w = 1; next }\n" +
            "!w && $1 == \"base\" { exists[$2 \" \" $3 \" \" $4] = 1; next }\n" +
            "!w && $1 == \"own\" { k = $2 \" \" $3 \" \" $4; own[k]++; h[k, own[k]] = $5; if ($6 == \"1\") bad[k] = 1; note(k); next }\n" +
            "w && NF >= 3 { k = $1 \" \" $2 \" \" $3; note(k); if (NF > 3) { body = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, \"\", body); want[k]++; wb[k, want[k]] = body } }\n" +
            "END {\n" +
            "  for (i = 1; i <= n; i++) {\n" +
            "    k = order[i]\n" +
            "    if (!(k in exists) && !(k in own)) continue\n" +
            "    if (mode == \"--if-missing\" && own[k] + 0 == want[k] + 0 && !(k in bad)) continue\n" +
            "    for (j = 1; j <= own[k]; j++) print \"delete rule \" k \" handle \" h[k, j]\n" +
            "    if (k in exists) for (j = want[k]; j >= 1; j--) print \"insert rule \" k \" \" wb[k, j]\n" +
            "  }\n" +
            "}'\n" +
            "}\n";

        /// <summary>
        /// The apply's step: the batch for <paramref name="wanted"/> loaded in one nft transaction. Exits 3
        /// when the kernel refuses it (then nothing of it changed).
        /// </summary>
        public static string Script(string privileged, IReadOnlyList<string> wanted)
        {
            var script = new StringBuilder(BatchFunction(privileged));
            script.Append("bypassnat_want=$(cat <<'BYPASSNAT_EXEMPT'\n");
            foreach (string line in wanted) script.Append(line).Append('\n');
            script.Append("BYPASSNAT_EXEMPT\n)\n");
            script.Append("bypassnat_batch=$(bypassnat_nft_batch '' \"$bypassnat_want\") || exit 3\n");
            script.Append("[ -z \"$bypassnat_batch\" ] || printf '%s\\n' \"$bypassnat_batch\" | ").Append(privileged).Append("nft -f - || exit 3\n");
            return script.ToString();
        }

        /// <summary>
        /// The lines that say what BypassNat wants in the proxy's chains: one rule a chain, forward and
        /// protocol (<c>F T C RULE</c>, RULE exactly as nft prints it back), in the router's order.
        /// </summary>
        /// <remarks>
        /// A forward with InternalIPv6 also gets, in an inet table's chain (an ip table sees no IPv6), a rule for
        /// its IPv6 replies: those the raw table took out of conntrack (<see cref="Backends.Iptables.Ipv6Pinholes"/>), from
        /// the device's identifier and port; the same comment as the ip6tables rules (role reply6).
        /// </remarks>
        public static IReadOnlyList<string> Rules(IEnumerable<string> chains, IEnumerable<BypassForward> forwards)
        {
            List<BypassForward> enabled = BypassForward.InRouterOrder(forwards.Where(f => f.Enabled)).ToList();
            var rules = new List<string>();
            foreach (string chain in chains)
                foreach (BypassForward forward in enabled)
                {
                    if (forward.HasIpv4)
                    {
                        string comment = RuleComment.For(forward, ProxyExemption.ReplyRole).WithoutNote().Encode();
                        foreach (string transport in forward.Transports)
                            rules.Add($"{chain} ct direction reply ct status dnat ip saddr {forward.InternalAddress} {transport} sport {forward.InternalPort} accept comment \"{comment}\"");
                    }

                    if (forward.InternalIPv6 != null && chain.StartsWith("inet ", System.StringComparison.Ordinal))
                    {
                        string comment6 = Backends.Iptables.Ipv6Pinholes.Comment(forward, Backends.Iptables.Ipv6Pinholes.ReplyRole);
                        foreach (string transport in forward.Transports)
                            rules.Add($"{chain} {forward.InternalIPv6.NftMatch("saddr")} {transport} sport {forward.ExternalPort} ct state untracked accept comment \"{comment6}\"");
                    }
                }

            return rules;
        }

        /// <summary>Whether <paramref name="state"/>'s chains hold exactly <paramref name="wanted"/> of BypassNat's, each chain's first.</summary>
        public static bool InPlace(IReadOnlyList<string> wanted, ProxyCapture state) => Differs(wanted, state) == null;

        /// <summary>Null when they match; otherwise what differs, for an error.</summary>
        public static string Differs(IReadOnlyList<string> wanted, ProxyCapture state)
        {
            foreach (string chain in wanted.Select(ChainOf).Concat(state.NftOwnRules.Select(r => r.Chain)).Distinct())
            {
                List<string> want = wanted.Where(w => ChainOf(w) == chain).Select(w => w.Substring(chain.Length + 1)).ToList();
                List<NftOwnRule> have = state.NftOwnRules.Where(r => r.Chain == chain).ToList();
                if (have.Any(r => r.Displaced)) return $"BypassNat's rules are not the first of the chain '{chain}'";
                if (!have.Select(r => r.Rule).SequenceEqual(want)) return $"the chain '{chain}' holds {have.Count} of BypassNat's rule(s), expected {want.Count}";
            }

            return null;
        }

        internal static string ChainOf(string line)
        {
            string[] words = line.Split(' ');
            return string.Join(" ", words.Take(3));
        }
    }

    /// <summary>One of BypassNat's rules in a proxy's nftables chain, as the survey listed it.</summary>
    public sealed class NftOwnRule
    {
        /// <summary>"inet clash prerouting": family, table and chain.</summary>
        public string Chain { get; set; }

        public string Handle { get; set; }

        /// <summary>Whether a rule that is not BypassNat's comes before it in the chain.</summary>
        public bool Displaced { get; set; }

        /// <summary>The rule as nft prints it, without its handle.</summary>
        public string Rule { get; set; }
    }
}
