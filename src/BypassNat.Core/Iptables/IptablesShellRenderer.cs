using System.Collections.Generic;
using System.Text;

namespace BypassNat.Iptables
{
    /// <summary>
    /// The forwards as plain iptables commands, like the seed's, for people who paste them into a
    /// router's startup script. Unlike the transaction, commands run one by one: not atomic.
    /// </summary>
    public static class IptablesShellRenderer
    {
        public static string Render(IEnumerable<BypassForward> forwards, RenderContext context = null)
        {
            var text = new StringBuilder();
            text.Append("#!/bin/sh\n");
            text.Append("# BypassNat forwards as plain iptables commands; run as root on the bypass router.\n");
            text.Append("# Re-running is safe: BypassNat's chains are emptied and refilled, the jumps added once.\n");
            text.Append("set -e\n");
            foreach (string chain in new[] { IptablesChains.Prerouting, IptablesChains.Postrouting })
                text.Append($"iptables -t nat -N {chain} 2>/dev/null || iptables -t nat -F {chain}\n");
            // The comment holds no quote and no space, so single quotes keep it as one word.
            foreach (string rule in IptablesRenderer.RenderRules(forwards, context))
                text.Append("iptables -t nat ").Append(rule.Replace('"', '\'')).Append('\n');
            text.Append($"iptables -t nat -C PREROUTING -j {IptablesChains.Prerouting} 2>/dev/null || iptables -t nat -I PREROUTING 1 -j {IptablesChains.Prerouting}\n");
            text.Append($"iptables -t nat -C POSTROUTING -j {IptablesChains.Postrouting} 2>/dev/null || iptables -t nat -I POSTROUTING 1 -j {IptablesChains.Postrouting}\n");
            return text.ToString();
        }
    }
}
