using System.Collections.Generic;
using System.Text;

namespace BypassNat.Backends.Iptables
{
    /// <summary>
    /// The forwards as plain iptables commands, like the seed's, for people who paste them into a
    /// router's startup script. Unlike the transaction, commands run one by one: not atomic.
    /// </summary>
    public static class IptablesShellRenderer
    {
        public static string Render(IEnumerable<BypassForward> forwards, RenderContext context = null) =>
            Render(IptablesRenderer.RenderRules(forwards, context), IptablesChains.Prerouting, IptablesChains.Postrouting, "the bypass router");

        internal static string Render(IEnumerable<string> rules, string prerouting, string postrouting, string router)
        {
            var text = new StringBuilder();
            text.Append("#!/bin/sh\n");
            text.Append("# BypassNat forwards as plain iptables commands; run as root on ").Append(router).Append(".\n");
            text.Append("# Re-running is safe: BypassNat's chains are emptied and refilled, the jumps added once.\n");
            text.Append("set -e\n");
            foreach (string chain in new[] { prerouting, postrouting })
                text.Append($"iptables -t nat -N {chain} 2>/dev/null || iptables -t nat -F {chain}\n");
            // The comment holds no quote and no space, so single quotes keep it as one word.
            foreach (string rule in rules)
                text.Append("iptables -t nat ").Append(rule.Replace('"', '\'')).Append('\n');
            text.Append($"iptables -t nat -C PREROUTING -j {prerouting} 2>/dev/null || iptables -t nat -I PREROUTING 1 -j {prerouting}\n");
            text.Append($"iptables -t nat -C POSTROUTING -j {postrouting} 2>/dev/null || iptables -t nat -I POSTROUTING 1 -j {postrouting}\n");
            return text.ToString();
        }
    }
}
