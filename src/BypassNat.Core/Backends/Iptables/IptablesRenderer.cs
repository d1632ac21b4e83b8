using System.Collections.Generic;
using System.Linq;
using System.Globalization;
using System.Text;

namespace BypassNat.Backends.Iptables
{
    /// <summary>
    /// Renders forwards as an <c>iptables-restore --noflush</c> transaction for the nat table.
    /// The transaction (re)declares and flushes BypassNat's own chains and refills them, and adds
    /// the jumps from PREROUTING/POSTROUTING only where the router lacks them, so other rules
    /// (the proxy's, the user's) are never touched and the kernel takes all of it or none.
    /// </summary>
    public static class IptablesRenderer
    {
        public static string RenderRestore(IEnumerable<BypassForward> forwards, IptablesJumpRepair jumps, RenderContext context = null) =>
            RenderChains(forwards, jumps, context) + "COMMIT\n";

        /// <summary>The transaction without its COMMIT, so the router's restore script can add the jumps it finds missing.</summary>
        public static string RenderChains(IEnumerable<BypassForward> forwards, IptablesJumpRepair jumps, RenderContext context = null)
        {
            var text = new StringBuilder();
            text.Append("*nat\n");
            text.Append(':').Append(IptablesChains.Prerouting).Append(" - [0:0]\n");
            text.Append(':').Append(IptablesChains.Postrouting).Append(" - [0:0]\n");
            // iptables-nft and legacy both empty a re-declared chain under --noflush, but say it outright.
            text.Append("-F ").Append(IptablesChains.Prerouting).Append('\n');
            text.Append("-F ").Append(IptablesChains.Postrouting).Append('\n');
            foreach (string rule in RenderRules(forwards, context)) text.Append(rule).Append('\n');
            AppendJump(text, "PREROUTING", IptablesChains.Prerouting, jumps.PreroutingJumps, jumps.PreroutingJumpFirst);
            AppendJump(text, "POSTROUTING", IptablesChains.Postrouting, jumps.PostroutingJumps, jumps.PostroutingJumpFirst);
            return text.ToString();
        }

        /// <summary>Deletes the jumps, then empties and deletes BypassNat's chains, in one transaction.</summary>
        public static string RenderRemoval(IptablesState state)
        {
            var text = new StringBuilder("*nat\n");
            for (int i = 0; i < state.Jumps.PreroutingJumps; i++) text.Append("-D PREROUTING -j ").Append(IptablesChains.Prerouting).Append('\n');
            for (int i = 0; i < state.Jumps.PostroutingJumps; i++) text.Append("-D POSTROUTING -j ").Append(IptablesChains.Postrouting).Append('\n');
            foreach (var chain in new[] { (state.HasPreroutingChain, IptablesChains.Prerouting), (state.HasPostroutingChain, IptablesChains.Postrouting) })
                if (chain.Item1) text.Append("-F ").Append(chain.Item2).Append("\n-X ").Append(chain.Item2).Append('\n');
            text.Append("COMMIT\n");
            return text.ToString();
        }

        /// <summary>The same for another pair of owned chains (the main router's); <paramref name="chains"/> are the ones that exist.</summary>
        internal static string RenderRemoval(IptablesJumpRepair jumps, string prerouting, string postrouting, IEnumerable<string> chains)
        {
            var text = new StringBuilder("*nat\n");
            for (int i = 0; i < jumps.PreroutingJumps; i++) text.Append("-D PREROUTING -j ").Append(prerouting).Append('\n');
            for (int i = 0; i < jumps.PostroutingJumps; i++) text.Append("-D POSTROUTING -j ").Append(postrouting).Append('\n');
            foreach (string chain in chains)
                text.Append("-F ").Append(chain).Append("\n-X ").Append(chain).Append('\n');
            text.Append("COMMIT\n");
            return text.ToString();
        }

        // The jump goes first in the built-in chain: a forward must be translated before a proxy's
        // REDIRECT sees the packet, and its source NAT before the router's blanket MASQUERADE.
        internal static void AppendJump(StringBuilder text, string builtin, string owned, int present, bool first)
        {
            if (present == 1 && first) return;
            for (int i = 0; i < present; i++) text.Append("-D ").Append(builtin).Append(" -j ").Append(owned).Append('\n');
            text.Append("-I ").Append(builtin).Append(" 1 -j ").Append(owned).Append('\n');
        }

        /// <summary>The <c>-A</c> lines of BypassNat's chains, in a stable order, for enabled forwards only.</summary>
        public static IReadOnlyList<string> RenderRules(IEnumerable<BypassForward> forwards, RenderContext context = null)
        {
            context = context ?? RenderContext.None;
            var dnat = new List<string>();
            var snat = new List<string>();
            var reflect = new List<string>();
            var keep = new List<string>();
            foreach (BypassForward forward in forwards)
            {
                if (!forward.Enabled) continue;
                string comment = RuleComment.For(forward).Encode();
                Ipv4Prefix? lan = context.LanOf(forward);
                foreach (string transport in forward.Transports)
                {
                    string match = $"-p {transport} -m {transport}";
                    foreach (string from in Sources(forward))
                    {
                        dnat.Add($"-A {IptablesChains.Prerouting} {from}-d {forward.BypassAddress}/32 {match} --dport {Ports(forward.BypassPort)}" +
                                 $" -m comment --comment \"{comment}\" -j DNAT --to-destination {DnatTarget(forward, forward.BypassPort)}");
                        if (forward.PublicAddress != null)
                            dnat.Add($"-A {IptablesChains.Prerouting} {from}-d {forward.PublicAddress}/32 {match} --dport {Ports(forward.ExternalPort)}" +
                                     $" -m comment --comment \"{RuleComment.For(forward, RuleComment.PublicRole).Encode()}\" -j DNAT --to-destination {DnatTarget(forward, forward.ExternalPort)}");
                    }

                    string toDevice = $"-d {forward.InternalAddress}/32 {match} --dport {Ports(forward.InternalPort)} -m conntrack --ctstate DNAT";

                    // Only for devices whose gateway is not the bypass router: the reply must come back
                    // through it. The seed's SNAT line had -d and --to-source swapped and never matched.
                    if (forward.SourceNat)
                        snat.Add($"-A {IptablesChains.Postrouting} {toDevice} --ctorigdst {forward.BypassAddress}/32" +
                                 $" -m comment --comment \"{comment}\" -j SNAT --to-source {forward.BypassAddress}");

                    // A client on the device's own LAN: without this the device answers it directly.
                    if (lan != null)
                        reflect.Add($"-A {IptablesChains.Postrouting} -s {lan} {toDevice}" +
                                    $" -m comment --comment \"{RuleComment.For(forward, RuleComment.ReflectRole).Encode()}\" -j SNAT --to-source {forward.BypassAddress}");

                    // Everyone else keeps their address: ACCEPT ends the nat table here, before the
                    // router's blanket MASQUERADE, so the device sees the real client.
                    keep.Add($"-A {IptablesChains.Postrouting} {toDevice}" +
                             $" -m comment --comment \"{RuleComment.For(forward, RuleComment.KeepRole).Encode()}\" -j ACCEPT");
                }
            }

            return dnat.Concat(snat).Concat(reflect).Concat(keep).ToList();
        }

        /// <summary>
        /// The source match of each DNAT rule: none for every client; for a forward with AllowedSource,
        /// one rule per prefix (same comment, the reader groups them again), so a client no rule admits
        /// is not translated. ipset would make it one rule, but is not on every router.
        /// </summary>
        internal static IEnumerable<string> Sources(BypassForward forward) =>
            forward.AllowedSource.IsAny ? new[] { string.Empty } : forward.AllowedSource.Select(p => $"-s {p} ");

                /// <summary>iptables writes port ranges with a colon.</summary>
        public static string Ports(PortRange range) => range.IsSingle
            ? range.Start.ToString(CultureInfo.InvariantCulture)
            : range.Start.ToString(CultureInfo.InvariantCulture) + ":" + range.End.ToString(CultureInfo.InvariantCulture);

        internal static string DnatTarget(BypassForward forward, PortRange matched)
        {
            // Same ports on both sides: DNAT only the address, which keeps each port as it is.
            if (forward.InternalPort == matched && !matched.IsSingle)
                return forward.InternalAddress.ToString();
            if (forward.InternalPort.IsSingle)
                return $"{forward.InternalAddress}:{forward.InternalPort.Start}";
            // A shifted range maps one to one: "a-b/base" sends base->a, base+1->a+1, ...
            return $"{forward.InternalAddress}:{forward.InternalPort.Start}-{forward.InternalPort.End}/{matched.Start}";
        }
    }
}
