using System.Collections.Generic;
using System.Linq;
using System.Text;
using BypassNat.Backends.Iptables;

namespace BypassNat.Proxy
{
    /// <summary>
    /// Keeps a TPROXY proxy from capturing the replies of BypassNat's forwards. A device answers a
    /// forwarded client through its gateway, the bypass router: the reply arrives from the LAN, addressed
    /// to the internet, exactly what a proxy's mangle PREROUTING rule sends to its transparent socket
    /// (which answers a SYN-ACK with a reset), so the forward breaks.
    /// </summary>
    /// <remarks>
    /// Where the proxy captures in the iptables mangle table (TPROXY rules, or a MARK whose fwmark routes
    /// into a tunnel, as OpenClash's TUN mode on fw3 does), BypassNat owns one chain there,
    /// <c>BYPASSNAT_PROXY</c>, jumped to first from mangle PREROUTING, with one ACCEPT a forward and
    /// protocol for packets from the device's address and port (the forward's InternalAddress and
    /// InternalPort) of a connection conntrack has DNATed, in its reply direction. ACCEPT ends the mangle
    /// table's PREROUTING, so the proxy's rules after it never see those packets, which carry no mark and
    /// are routed by the main table. Nothing else is exempted: no packet of the original direction, no
    /// connection the router did not DNAT, no other port of the device.
    /// A native nftables proxy (<c>tproxy</c> in its own table) cannot be exempted from outside (an accept
    /// in another table does not end its chain, and a socket once assigned by tproxy cannot be undone), so
    /// <see cref="NftablesExemption"/> puts BypassNat's rules inside the proxy's own prerouting base chains.
    /// A TUN-mode proxy (policy routing into a tunnel), or a tproxy no such chain leads to, is not
    /// exempted: <see cref="Advice"/> is the exact rules to add to the proxy's own configuration.
    /// </remarks>
    public sealed class ProxyExemption
    {
        public const string Chain = "BYPASSNAT_PROXY";
        public const string ReplyRole = "reply";

        private ProxyExemption(ProxyCapture capture, IReadOnlyList<BypassForward> desired, IReadOnlyList<string> wanted, IReadOnlyList<string> nftWanted)
        {
            Capture = capture;
            Desired = desired;
            Wanted = wanted;
            NftWanted = nftWanted;
        }

        public ProxyCapture Capture { get; }

        public IReadOnlyList<BypassForward> Desired { get; }

        /// <summary>The chain's rules as they should be (empty: the chain should not exist).</summary>
        public IReadOnlyList<string> Wanted { get; }

        /// <summary>BypassNat's rules at the top of the native nftables proxy's chains (<see cref="NftablesExemption.Rules"/>); empty: none should be there.</summary>
        public IReadOnlyList<string> NftWanted { get; }

        /// <summary>The exemption for <paramref name="desired"/> on a router with <paramref name="capture"/>.</summary>
        public static ProxyExemption For(ProxyCapture capture, IReadOnlyList<BypassForward> desired)
        {
            capture = capture ?? ProxyCapture.None;
            // The mangle chain is IPv4's (the IPv6 one is Ipv6Pinholes'); a native nft proxy's inet chains take both.
            IReadOnlyList<string> wanted = capture.CapturesInMangle ? Rules(desired.Where(f => f.HasIpv4)) : new string[0];
            return new ProxyExemption(capture, desired, wanted, NftablesExemption.Rules(capture.NftExemptChains, desired));
        }

        /// <summary>Whether the mangle table or a proxy's nftables chain holds anything of the exemption, or should.</summary>
        public bool Relevant => MangleRelevant || NftRelevant;

        private bool MangleRelevant => Wanted.Count > 0 || Capture.HasExemptionChain;

        private bool NftRelevant => NftWanted.Count > 0 || Capture.NftOwnRules.Count > 0;

        public bool InPlace => InPlaceIn(Capture) && NftablesExemption.InPlace(NftWanted, Capture);

        public bool NeedsWrite => Relevant && !InPlace;

        private bool InPlaceIn(ProxyCapture state) => Wanted.Count == 0
            ? !state.HasExemptionChain && state.ExemptionJumps == 0
            : state.HasExemptionChain && state.ExemptionJumps == 1 && state.ExemptionJumpFirst && state.ExemptionRules.SequenceEqual(Wanted);

        /// <summary>The chain's -A lines, in the router's order, as iptables-save prints them back.</summary>
        public static IReadOnlyList<string> Rules(IEnumerable<BypassForward> forwards)
        {
            var rules = new List<string>();
            foreach (BypassForward forward in BypassForward.InRouterOrder(forwards.Where(f => f.Enabled)))
            {
                string comment = RuleComment.For(forward, ReplyRole).WithoutNote().Encode();
                foreach (string transport in forward.Transports)
                    rules.Add($"-A {Chain} -s {forward.InternalAddress}/32 -p {transport} -m {transport} --sport {IptablesRenderer.Ports(forward.InternalPort)}" +
                              $" -m conntrack --ctstate DNAT --ctdir REPLY -m comment --comment \"{comment}\" -j ACCEPT");
            }

            return rules;
        }

        /// <summary>
        /// One iptables-restore transaction for the mangle table: the chain emptied and refilled and its
        /// jump made the first rule of PREROUTING, or (nothing wanted) the jumps and the chain deleted.
        /// Exits 3 when the kernel refuses it.
        /// </summary>
        public string Script(string privileged)
        {
            // The nftables part first: it is one nft transaction, so when it is refused nothing changed.
            string nft = NftRelevant ? NftablesExemption.Script(privileged, NftWanted) : string.Empty;
            return !MangleRelevant ? nft : nft + MangleScript(privileged);
        }

        private string MangleScript(string privileged)
        {
            var text = new StringBuilder("*mangle\n");
            for (int i = 0; i < Capture.ExemptionJumps; i++)
                if (Wanted.Count == 0 || !(Capture.ExemptionJumps == 1 && Capture.ExemptionJumpFirst))
                    text.Append("-D PREROUTING -j ").Append(Chain).Append('\n');
            if (Wanted.Count == 0)
            {
                if (Capture.HasExemptionChain) text.Append("-F ").Append(Chain).Append("\n-X ").Append(Chain).Append('\n');
            }
            else
            {
                text.Append(':').Append(Chain).Append(" - [0:0]\n");
                text.Append("-F ").Append(Chain).Append('\n');
                foreach (string rule in Wanted) text.Append(rule).Append('\n');
                if (!(Capture.ExemptionJumps == 1 && Capture.ExemptionJumpFirst)) text.Append("-I PREROUTING 1 -j ").Append(Chain).Append('\n');
            }

            text.Append("COMMIT\n");
            return IptablesBackend.Restore(privileged, text.ToString());
        }

        /// <summary>
        /// The chain as -Persist saves it (restore.sh adds the jump first in PREROUTING); empty when there
        /// is nothing to exempt, so the saved one goes.
        /// </summary>
        public string SavedChain => Wanted.Count == 0 ? string.Empty
            : $":{Chain} - [0:0]\n-F {Chain}\n" + string.Concat(Wanted.Select(r => r + "\n"));

        /// <summary>
        /// The lines -Persist saves for restore.sh (<see cref="NftablesExemption.BatchFunction"/>); empty when
        /// there is nothing to exempt in nftables, so the saved file goes.
        /// </summary>
        public string SavedNft => string.Concat(NftWanted.Select(r => r + "\n"));

        /// <summary>The mangle table and the proxy's nftables chains again, for the read-back.</summary>
        public string ReadScript(string privileged) =>
            (MangleRelevant ? "echo '@mangle'\nLC_ALL=C " + privileged + "iptables-save -t mangle\n" : string.Empty) +
            (NftRelevant ? "echo '@nftchains'\n" + NftablesExemption.ListScript(privileged) : string.Empty);

        /// <summary>Null when the read-back holds exactly the exemption; otherwise what differs.</summary>
        public string Verify(string readBack)
        {
            ProxyCapture after = ProxyCapture.Parse(readBack);
            string nft = NftRelevant ? NftablesExemption.Differs(NftWanted, after) : null;
            if (nft != null) return nft;
            if (!MangleRelevant || InPlaceIn(after)) return null;
            if (Wanted.Count == 0) return $"the chain {Chain} or its jump is still in the mangle table";
            if (after.ExemptionJumps != 1 || !after.ExemptionJumpFirst) return $"the jump to {Chain} is not the first rule of mangle PREROUTING ({after.ExemptionJumps} jump(s))";
            return $"{Chain} holds {after.ExemptionRules.Count} rule(s), expected {Wanted.Count}";
        }

        /// <summary>For the apply's result: what captures, and whether the forwards' replies are exempted; null when nothing does.</summary>
        public string Summary
        {
            get
            {
                var parts = new List<string>();
                if (Capture.IptablesTproxyRules.Count > 0)
                    parts.Add(Wanted.Count > 0 ? "iptables TPROXY: replies exempted (" + Chain + ")" : "iptables TPROXY: no forwards to exempt");
                List<string> exempted = ExemptedTables.ToList();
                if (exempted.Count > 0)
                    parts.Add("nftables tproxy (" + string.Join(", ", exempted) + "): " + (NftWanted.Count > 0 ? "replies exempted (first in " +
                              string.Join(", ", Capture.NftExemptChains.Select(c => c.Split(' ')[2]).Distinct()) + ")" : "no forwards to exempt"));
                List<string> advised = Capture.NftablesTproxyTables.Except(exempted).ToList();
                if (advised.Count > 0)
                    parts.Add("nftables tproxy (" + string.Join(", ", advised) + "): not exempted, the proxy's configuration must (see the warning)");
                if (Capture.MarkedTunnelRules.Count > 0)
                    parts.Add("TUN by iptables mangle mark (" + string.Join(", ", Capture.MarkedTunnelRules.Select(r => r.Device).Distinct()) + "): " +
                              (Wanted.Count > 0 ? "replies exempted (" + Chain + ")" : "no forwards to exempt"));
                if (Capture.TunnelRules.Count > 0)
                    parts.Add("TUN policy routing (" + string.Join(", ", Capture.TunnelRules.Select(r => r.Device).Distinct()) + "): not exempted, the proxy's configuration must (see the warning)");
                return parts.Count == 0 ? null : string.Join("; ", parts);
            }
        }

        // The tables holding a tproxy that BypassNat reaches from one of their prerouting base chains.
        private IEnumerable<string> ExemptedTables => Capture.NftablesTproxyTables.Where(t => Capture.NftExemptChains.Any(c => c.StartsWith(t + " ", System.StringComparison.Ordinal)));

        public string Describe()
        {
            var lines = new List<string>();
            if (MangleRelevant)
                lines.Add(Wanted.Count == 0
                    ? $"  proxy    remove {Chain} from the mangle table (no proxy captures there, or no forwards)"
                    : $"  proxy    exempt the forwards' replies from the proxy's capture in the mangle table ({Wanted.Count} rule(s) in {Chain}, jumped to first)");
            if (NftRelevant)
                lines.Add(NftWanted.Count == 0
                    ? "  proxy    remove BypassNat's rules from the proxy's nftables chains (" + string.Join(", ", Capture.NftOwnRules.Select(r => r.Chain).Distinct()) + ")"
                    : "  proxy    exempt the forwards' replies from the proxy's nftables tproxy (" + NftWanted.Count + " rule(s) first in " + string.Join(", ", Capture.NftExemptChains) + ")");
            return string.Join("\n", lines);
        }

        /// <summary>
        /// What the user must add to the proxy's own configuration where BypassNat cannot exempt the
        /// forwards itself (a native nftables tproxy, policy routing into a tunnel), with the exact rules.
        /// </summary>
        public IReadOnlyList<string> Advice(string router)
        {
            var advice = new List<string>();
            // IPv4: an IPv6 reply is untracked (Ipv6Pinholes), which a TUN proxy's routing and a tproxy do not ask.
            List<BypassForward> enabled = BypassForward.InRouterOrder(Desired.Where(f => f.Enabled && f.HasIpv4)).ToList();
            if (enabled.Count == 0) return advice;
            var matches = enabled.SelectMany(f => f.Transports.Select(t => (Forward: f, Match: $"ip saddr {f.InternalAddress} {t} sport {f.InternalPort}",
                Rule: $"from {f.InternalAddress} ipproto {t} sport {f.InternalPort}"))).ToList();
            foreach (string table in Capture.NftablesTproxyTables.Except(ExemptedTables))
                advice.Add($"On {router} the nftables table '{table}' sends LAN traffic to a proxy with tproxy, which also captures the replies of the forwards, " +
                           "so they do not work; BypassNat found no prerouting base chain of that table that leads to it, so it cannot exempt them there itself. Add these rules to that table's prerouting chain, " +
                           "before its tproxy rule (in the proxy's configuration, so they survive its restart):\n" +
                           string.Join("\n", matches.Select(m => $"    ct direction reply ct status dnat {m.Match} return")));
            foreach (IGrouping<string, PolicyRule> tunnel in Capture.TunnelRules.GroupBy(r => r.Device))
            {
                int before = System.Math.Max(1, tunnel.Min(r => r.Priority) - 1);
                advice.Add($"On {router} policy routing sends LAN traffic into {tunnel.Key} (a TUN-mode proxy: " +
                           string.Join("; ", tunnel.Select(r => $"ip rule {r.Priority}: {r.Selector}")) +
                           "), which also takes the replies of the forwards, so they do not work. Route them by the main table first " +
                           "(in the proxy's configuration or a startup script, so they survive its restart):\n" +
                           string.Join("\n", matches.Select(m => $"    ip rule add {m.Rule} lookup main pref {before}")));
            }

            return advice;
        }
    }
}
