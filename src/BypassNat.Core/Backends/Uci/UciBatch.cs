using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace BypassNat.Backends.Uci
{
    /// <summary>
    /// Renders the main router's forwards as the lines of one <c>uci batch</c>. Only sections named with
    /// BypassNat's prefix are ever deleted or set: the user's own redirects, zones and settings are not
    /// in the batch at all.
    /// </summary>
    public static class UciBatch
    {
        /// <summary>
        /// The change from <paramref name="current"/> to <paramref name="desired"/>: sections no longer
        /// wanted (and strays) deleted, changed ones deleted and written again, new ones written,
        /// unchanged ones left alone. Empty when the router already holds the desired set.
        /// </summary>
        public static string Render(IEnumerable<UciRedirect> desired, UciState current)
        {
            var wanted = desired.ToList();
            var held = current.Redirects.ToDictionary(r => r.Section, StringComparer.Ordinal);
            var batch = new StringBuilder();
            foreach (UciRedirect old in current.Redirects.Where(r => wanted.All(w => w.Section != r.Section)))
                batch.Append("delete firewall.").Append(old.Section).Append('\n');
            foreach (string stray in current.Strays)
                batch.Append("delete firewall.").Append(stray).Append('\n');
            foreach (UciRedirect redirect in wanted)
            {
                if (held.TryGetValue(redirect.Section, out UciRedirect now))
                {
                    if (now.Equals(redirect)) continue;
                    batch.Append("delete firewall.").Append(redirect.Section).Append('\n');
                }

                AppendSection(batch, redirect);
            }

            return batch.ToString();
        }

        /// <summary>
        /// Every forward's section, for reading or pasting into <c>uci batch</c> on a main router by hand
        /// (ConvertTo-BypassRuleset -Format Uci). Each section is written whole, every option set, so
        /// it also replaces an earlier BypassNat section of the same name.
        /// </summary>
        public static string RenderAll(IEnumerable<UciRedirect> desired)
        {
            var batch = new StringBuilder();
            foreach (UciRedirect redirect in desired) AppendSection(batch, redirect);
            batch.Append("commit firewall\n");
            return batch.ToString();
        }

        private static void AppendSection(StringBuilder batch, UciRedirect redirect)
        {
            batch.Append("set firewall.").Append(redirect.Section).Append("=redirect\n");
            foreach (string option in UciRedirect.OptionNames)
                if (redirect.Options.TryGetValue(option, out string value))
                    batch.Append("set firewall.").Append(redirect.Section).Append('.').Append(option).Append("='").Append(Quote(value)).Append("'\n");
        }

        // Values are names, zones, ports and addresses, checked before they get here; a quote would
        // still be written the way uci reads it back.
        private static string Quote(string value) => value.Replace("'", "'\\''");
    }
}
