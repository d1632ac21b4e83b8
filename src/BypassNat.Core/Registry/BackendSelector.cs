using System;
using System.Collections.Generic;
using System.Linq;
using BypassNat.Ssh;
using BypassNat.Backends;

namespace BypassNat.Registry
{
    /// <summary>
    /// Looks at what the router has (nft, iptables and which flavour, BypassNat's rules in either)
    /// and picks the backend. Auto stays with the backend that already holds BypassNat's rules, so a
    /// router never changes backend behind the admin's back; with none yet it takes nftables when
    /// nft works, iptables otherwise.
    /// </summary>
    public static class BackendSelector
    {
        /// <summary>
        /// What the router has, as key=value lines; always exits 0. Without <paramref name="owned"/>
        /// it leaves out where the hop's rules are, for a caller that reads both backends anyway
        /// (<see cref="RouterSurvey"/>) and need not list the ruleset twice.
        /// </summary>
        public static string ProbeScript(string p, RouterHop hop, bool owned = true) =>
            // Asking for the hop's table answers both questions: listed, or "No such file or directory"
            // means nft works. (nft list tables would fetch the whole ruleset: seconds on a router
            // whose iptables-nft rules are many.)
            "if command -v nft >/dev/null 2>&1; then\n" +
            "  echo \"nft=$(nft --version 2>/dev/null | head -n 1)\"\n" +
            "  if nft_error=$(LC_ALL=C " + p + "nft list table " + hop.NftTable + " 2>&1 >/dev/null); then\n" +
            "    echo nft-usable=yes\n" +
            (owned ? "    echo nft-owned=yes\n" : "") +
            "  else\n" +
            "    case \"$nft_error\" in (*'No such file or directory'*) echo nft-usable=yes ;; esac\n" +
            "  fi\n" +
            "fi\n" +
            "if command -v iptables-restore >/dev/null 2>&1; then\n" +
            "  echo \"iptables=$(iptables --version 2>/dev/null | head -n 1)\"\n" +
            (owned ? "  " + p + "iptables-save -t nat 2>/dev/null | grep -q '^:" + hop.IptablesPrerouting + " ' && echo iptables-owned=yes\n" : "") +
            "fi\n" +
            // An OpenWrt main router with firewall4 and uci holds its forwards as UCI redirects.
            (hop.Role == RouterRole.Main
                ? "if [ -f /etc/openwrt_release ] && command -v uci >/dev/null 2>&1 && command -v fw4 >/dev/null 2>&1; then echo openwrt-uci=yes; fi\n"
                : "") +
            "exit 0\n";

        /// <summary>Picks the hop's backend from what <see cref="ProbeScript"/> printed, and makes it (and the other one) for <paramref name="site"/>.</summary>
        public static BackendChoice Choose(BackendSite site, BackendKind requested, CommandResult result)
        {
            RouterSession session = site.Session;
            RouterHop hop = site.Hop;
            var facts = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string line in result.Output.Split('\n'))
            {
                int eq = line.IndexOf('=');
                if (eq > 0) facts[line.Substring(0, eq)] = line.Substring(eq + 1).Trim();
            }

            bool hasNft = facts.ContainsKey("nft"), nftUsable = facts.ContainsKey("nft-usable"), hasIptables = facts.ContainsKey("iptables");
            string found = Describe(facts);
            IRouterBackend nft = BackendRegistry.Create(BackendKind.Nftables, site), iptables = BackendRegistry.Create(BackendKind.Iptables, site);

            bool hasUci = facts.ContainsKey("openwrt-uci");
            if (requested != BackendKind.Auto && !BackendRegistry.Find(requested).Roles.Contains(hop.Role))
                throw new BypassNatException("BypassNat.UciNotForBypass", FailureKind.InvalidData,
                    $"-Backend {requested} is for the main router (-Role Main): the bypass router's forwards live in its own nftables table or iptables chains. Nothing was changed.",
                    session.Settings.Endpoint);
            switch (requested)
            {
                case BackendKind.Uci:
                    if (!hasUci) throw Missing(session, "OpenWrt firewall4 with uci (/etc/openwrt_release, uci, fw4)", found);
                    return new BackendChoice(BackendRegistry.Create(BackendKind.Uci, site), hasNft ? nft : null, $"Uci (as requested; OpenWrt with firewall4; {found})");
                case BackendKind.Nftables:
                    if (!hasNft) throw Missing(session, "nft (nftables)", found);
                    return new BackendChoice(nft, hasIptables ? iptables : null, $"Nftables (as requested; {found})");
                case BackendKind.Iptables:
                    if (!hasIptables) throw Missing(session, "iptables-restore", found);
                    return new BackendChoice(iptables, hasNft ? nft : null, $"Iptables (as requested; {found})");
            }

            if (facts.ContainsKey("nft-owned") && hasNft)
                return new BackendChoice(nft, hasIptables ? iptables : null, $"Nftables (auto: BypassNat's table is there; {found})");
            if (facts.ContainsKey("iptables-owned"))
                return new BackendChoice(iptables, hasNft ? nft : null, $"Iptables (auto: BypassNat's chains are there; {found})");
            if (hasUci)
                return new BackendChoice(BackendRegistry.Create(BackendKind.Uci, site), hasNft ? nft : null, $"Uci (auto: OpenWrt with firewall4; {found})");
            if (nftUsable)
                return new BackendChoice(nft, hasIptables ? iptables : null, $"Nftables (auto: nft works; {found})");
            if (hasIptables)
                return new BackendChoice(iptables, hasNft ? nft : null, $"Iptables (auto: no usable nft; {found})");
            throw Missing(session, "nft or iptables-restore", found);
        }

        private static string Describe(Dictionary<string, string> facts)
        {
            var parts = new List<string>();
            parts.Add(facts.TryGetValue("nft", out string nft) && nft.Length > 0 ? "nft " + nft.Replace("nftables ", "") : "no nft");
            parts.Add(facts.TryGetValue("iptables", out string iptables) && iptables.Length > 0 ? iptables : "no iptables");
            return string.Join(", ", parts);
        }

        private static BypassNatException Missing(RouterSession session, string tool, string found) =>
            new BypassNatException("BypassNat.ToolNotFound", FailureKind.NotInstalled,
                $"The router {session.Settings.Endpoint} has no {tool} (found: {found}). Install it, or choose the other -Backend.",
                session.Settings.Endpoint);
    }
}
