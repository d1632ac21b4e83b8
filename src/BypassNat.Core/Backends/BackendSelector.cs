using System;
using System.Collections.Generic;
using BypassNat.Iptables;
using BypassNat.Nftables;
using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>
    /// Looks at what the router has (nft, iptables and which flavour, BypassNat's rules in either)
    /// and picks the backend. Auto stays with the backend that already holds BypassNat's rules, so a
    /// router never changes backend behind the admin's back; with none yet it takes nftables when
    /// nft works, iptables otherwise.
    /// </summary>
    public static class BackendSelector
    {
        public static BackendChoice Choose(RouterSession session, BackendKind requested) => Choose(session, requested, RouterHop.Bypass, null);

        /// <param name="wanInterface">The main hop's WAN interface, for reading its rules against; null elsewhere.</param>
        public static BackendChoice Choose(RouterSession session, BackendKind requested, RouterHop hop, string wanInterface)
        {
            string p = session.Privileged;
            string probe = RouterScript.Preamble +
                "if command -v nft >/dev/null 2>&1; then\n" +
                "  echo \"nft=$(nft --version 2>/dev/null | head -n 1)\"\n" +
                "  " + p + "nft list tables >/dev/null 2>&1 && echo nft-usable=yes\n" +
                "  " + p + "nft list tables 2>/dev/null | grep -qx 'table " + hop.NftTable + "' && echo nft-owned=yes\n" +
                "fi\n" +
                "if command -v iptables-restore >/dev/null 2>&1; then\n" +
                "  echo \"iptables=$(iptables --version 2>/dev/null | head -n 1)\"\n" +
                "  " + p + "iptables-save -t nat 2>/dev/null | grep -q '^:" + hop.IptablesPrerouting + " ' && echo iptables-owned=yes\n" +
                "fi\n" +
                "exit 0\n";
            CommandResult result = session.Run(probe);
            var facts = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string line in result.Output.Split('\n'))
            {
                int eq = line.IndexOf('=');
                if (eq > 0) facts[line.Substring(0, eq)] = line.Substring(eq + 1).Trim();
            }

            bool hasNft = facts.ContainsKey("nft"), nftUsable = facts.ContainsKey("nft-usable"), hasIptables = facts.ContainsKey("iptables");
            string found = Describe(facts);
            IRouterBackend nft = hop.Backend(BackendKind.Nftables, wanInterface), iptables = hop.Backend(BackendKind.Iptables, wanInterface);

            switch (requested)
            {
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
