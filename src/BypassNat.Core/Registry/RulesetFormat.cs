using System.Collections.Generic;
using System.Linq;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using BypassNat.Backends.Uci;
using BypassNat.Backends;

namespace BypassNat.Registry
{
    public enum RulesetFormat
    {
        /// <summary>An <c>nft -f</c> file that replaces table ip bypassnat.</summary>
        Nftables,
        /// <summary>An <c>iptables-restore --noflush</c> transaction.</summary>
        IptablesRestore,
        /// <summary>Plain iptables commands, for pasting.</summary>
        Shell,
        /// <summary>The main router's half on OpenWrt: a <c>uci batch</c> of BypassNat's <c>config redirect</c> sections (and <c>config rule</c> for IPv6).</summary>
        Uci,
    }

    public static class RulesetRenderer
    {
        /// <summary>
        /// The hop's rules in <paramref name="format"/>, followed, for forwards with InternalIPv6, by their IPv6 rules
        /// (<see cref="Backends.Iptables.Ipv6Pinholes"/>): ip6tables commands in the Shell format; in the others, whose file
        /// another tool loads, the ip6tables-restore input as comments, so the file still loads as it is.
        /// </summary>
        public static string Render(IEnumerable<BypassForward> forwards, RulesetFormat format, RenderContext context = null, RouterRole role = RouterRole.Bypass)
        {
            List<BypassForward> all = forwards.ToList();
            // A UCI batch holds the main router's half whichever role asked for it (a redirect to the bypass
            // router, and for a forward with InternalIPv6 the traffic rule that lets IPv6 in to the device).
            if (format == RulesetFormat.Uci)
                return UciBatch.RenderAll(all.Where(f => f.HasIpv4).Select(f => UciRedirect.From(f)), all.Select(f => UciRule.From(f)).Where(r => r != null));
            string rendered = RenderHop(all.Where(f => f.HasIpv4), format, context, role);
            if (!all.Any(f => f.Enabled && f.InternalIPv6 != null)) return rendered;
            string ipv6 = Backends.Iptables.Ipv6Pinholes.For(role, Backends.Iptables.Ipv6State.Empty, all, "the router").Render(format == RulesetFormat.Shell);
            return rendered.TrimEnd('\n') + "\n\n" + ipv6;
        }

        private static string RenderHop(IEnumerable<BypassForward> forwards, RulesetFormat format, RenderContext context, RouterRole role)
        {
            if (role == RouterRole.Main)
            {
                switch (format)
                {
                    case RulesetFormat.Nftables: return MainNftablesRenderer.Render(forwards, context);
                    case RulesetFormat.IptablesRestore: return MainIptablesRenderer.RenderRestore(forwards, new IptablesJumpRepair(), context);
                    case RulesetFormat.Shell:
                        return IptablesShellRenderer.Render(MainIptablesRenderer.RenderRules(forwards, context), MainTable.IptablesPrerouting, MainTable.IptablesPostrouting, "the main router");
                }
            }
            else
            {
                switch (format)
                {
                    case RulesetFormat.Nftables: return NftablesRenderer.Render(forwards, context);
                    case RulesetFormat.IptablesRestore: return IptablesRenderer.RenderRestore(forwards, new IptablesJumpRepair(), context);
                    case RulesetFormat.Shell: return IptablesShellRenderer.Render(forwards, context);
                }
            }

            // A format added to the enum without a renderer must fail loudly, never fall back to another format.
            throw new System.ArgumentOutOfRangeException(nameof(format), format, "No renderer for this format.");
        }
    }
}
