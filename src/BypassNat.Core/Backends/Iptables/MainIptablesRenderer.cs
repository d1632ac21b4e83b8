using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace BypassNat.Backends.Iptables
{
    /// <summary>
    /// The main router's half as an <c>iptables-restore --noflush</c> transaction: its own two nat
    /// chains, refilled whole, and a jump to each at the top of PREROUTING and POSTROUTING.
    /// </summary>
    public static class MainIptablesRenderer
    {
        public static string RenderRestore(IEnumerable<BypassForward> forwards, IptablesJumpRepair jumps, RenderContext context) =>
            RenderChains(forwards, jumps, context) + "COMMIT\n";

        public static string RenderChains(IEnumerable<BypassForward> forwards, IptablesJumpRepair jumps, RenderContext context)
        {
            var text = new StringBuilder("*nat\n");
            text.Append(':').Append(MainTable.IptablesPrerouting).Append(" - [0:0]\n");
            text.Append(':').Append(MainTable.IptablesPostrouting).Append(" - [0:0]\n");
            text.Append("-F ").Append(MainTable.IptablesPrerouting).Append('\n');
            text.Append("-F ").Append(MainTable.IptablesPostrouting).Append('\n');
            foreach (string rule in RenderRules(forwards, context)) text.Append(rule).Append('\n');
            IptablesRenderer.AppendJump(text, "PREROUTING", MainTable.IptablesPrerouting, jumps.PreroutingJumps, jumps.PreroutingJumpFirst);
            IptablesRenderer.AppendJump(text, "POSTROUTING", MainTable.IptablesPostrouting, jumps.PostroutingJumps, jumps.PostroutingJumpFirst);
            return text.ToString();
        }

        public static string RenderRemoval(MainIptablesState state) =>
            IptablesRenderer.RenderRemoval(state.Jumps, MainTable.IptablesPrerouting, MainTable.IptablesPostrouting, state.Chains);

        public static IReadOnlyList<string> RenderRules(IEnumerable<BypassForward> forwards, RenderContext context)
        {
            string wan = context?.WanInterface ?? throw new System.ArgumentException("The main hop needs the WAN interface.", nameof(context));
            var dnat = new List<string>();
            var reflect = new List<string>();
            foreach (BypassForward forward in forwards.Where(f => f.Enabled).Select(MainHop.Project))
            {
                foreach (string transport in forward.Transports)
                {
                    string match = $"-p {transport} -m {transport} --dport {IptablesRenderer.Ports(forward.ExternalPort)}";
                    string target = IptablesRenderer.DnatTarget(forward, forward.ExternalPort);
                    // The input interface and "addressed to this router", never the WAN address: a PPPoE
                    // reconnect changes the address, not the interface.
                    foreach (string from in IptablesRenderer.Sources(forward))
                        dnat.Add($"-A {MainTable.IptablesPrerouting} {from}-i {wan} -m addrtype --dst-type LOCAL {match}" +
                                 $" -m comment --comment \"{RuleComment.For(forward).Encode()}\" -j DNAT --to-destination {target}");
                    if (forward.PublicAddress == null) continue;
                    foreach (string from in IptablesRenderer.Sources(forward))
                        dnat.Add($"-A {MainTable.IptablesPrerouting} {from}-d {forward.PublicAddress}/32 {match}" +
                                 $" -m comment --comment \"{RuleComment.For(forward, RuleComment.PublicRole).Encode()}\" -j DNAT --to-destination {target}");
                    // NAT reflection: LAN clients sent on to the bypass router leave with this router's LAN
                    // address, so the answer comes back here to be un-NATed.
                    foreach (Ipv4Prefix lan in context.LanPrefixes)
                        reflect.Add($"-A {MainTable.IptablesPostrouting} -s {lan} -d {forward.BypassAddress}/32 -p {transport} -m {transport} --dport {IptablesRenderer.Ports(forward.BypassPort)}" +
                                    $" -m conntrack --ctstate DNAT -m comment --comment \"{RuleComment.For(forward, RuleComment.ReflectRole).Encode()}\" -j MASQUERADE");
                }
            }

            return dnat.Concat(reflect).ToList();
        }
    }
}
