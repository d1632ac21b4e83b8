using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace BypassNat.Backends.Uci
{
    /// <summary>A section BypassNat writes in /etc/config/firewall: a forward's redirect, or its IPv6 traffic rule.</summary>
    public interface IUciSection
    {
        string Section { get; }

        /// <summary>The section's type (<c>redirect</c>, <c>rule</c>).</summary>
        string Type { get; }

        IReadOnlyList<string> OptionNames { get; }

        IReadOnlyDictionary<string, string> Options { get; }

        /// <summary>Whether the option is a UCI list (its entries separated by spaces in <see cref="Options"/>).</summary>
        bool IsList(string option);
    }

    /// <summary>
    /// Renders the main router's forwards as the lines of one <c>uci batch</c>. Only sections named with
    /// BypassNat's prefix are ever deleted or set: the user's own redirects, rules, zones and settings are
    /// not in the batch at all.
    /// </summary>
    public static class UciBatch
    {
        /// <summary>
        /// The change from <paramref name="current"/> to <paramref name="desired"/> (redirects only: any
        /// IPv6 rule of BypassNat's is deleted). See <see cref="Render(IEnumerable{UciRedirect}, IEnumerable{UciRule}, UciState)"/>.
        /// </summary>
        public static string Render(IEnumerable<UciRedirect> desired, UciState current) => Render(desired, new UciRule[0], current);

        /// <summary>
        /// The change from <paramref name="current"/> to the desired redirects and IPv6 rules: sections no
        /// longer wanted (and strays) deleted, changed ones deleted and written again, new ones written,
        /// unchanged ones left alone. Empty when the router already holds the desired set.
        /// </summary>
        public static string Render(IEnumerable<UciRedirect> desired, IEnumerable<UciRule> rules, UciState current)
        {
            List<IUciSection> wanted = desired.Cast<IUciSection>().Concat(rules).ToList();
            List<IUciSection> heldSections = current.Redirects.Cast<IUciSection>().Concat(current.Rules).ToList();
            var held = heldSections.ToDictionary(r => r.Section, StringComparer.Ordinal);
            var batch = new StringBuilder();
            foreach (IUciSection old in heldSections.Where(r => wanted.All(w => w.Section != r.Section)))
                batch.Append("delete firewall.").Append(old.Section).Append('\n');
            foreach (string stray in current.Strays)
                batch.Append("delete firewall.").Append(stray).Append('\n');
            foreach (IUciSection section in wanted)
            {
                if (held.TryGetValue(section.Section, out IUciSection now))
                {
                    if (now.Equals(section)) continue;
                    batch.Append("delete firewall.").Append(section.Section).Append('\n');
                }

                AppendSection(batch, section);
            }

            return batch.ToString();
        }

        /// <summary>
        /// Every forward's sections, for reading or pasting into <c>uci batch</c> on a main router by hand
        /// (ConvertTo-BypassRuleset -Format Uci). Each section is written whole, every option set, so
        /// it also replaces an earlier BypassNat section of the same name.
        /// </summary>
        public static string RenderAll(IEnumerable<UciRedirect> desired) => RenderAll(desired, new UciRule[0]);

        /// <summary>The redirects, then the IPv6 traffic rules, each whole, and the commit.</summary>
        public static string RenderAll(IEnumerable<UciRedirect> desired, IEnumerable<UciRule> rules)
        {
            var batch = new StringBuilder();
            foreach (IUciSection section in desired.Cast<IUciSection>().Concat(rules)) AppendSection(batch, section);
            batch.Append("commit firewall\n");
            return batch.ToString();
        }

        private static void AppendSection(StringBuilder batch, IUciSection section)
        {
            batch.Append("set firewall.").Append(section.Section).Append('=').Append(section.Type).Append('\n');
            foreach (string option in section.OptionNames)
            {
                if (!section.Options.TryGetValue(option, out string value)) continue;
                // A list's first entry is set, which replaces whatever the option held (a batch pasted over
                // an earlier section of the same name), and the rest are added to it.
                string[] entries = section.IsList(option) ? value.Split(' ') : new[] { value };
                for (int i = 0; i < entries.Length; i++)
                    batch.Append(i == 0 ? "set" : "add_list").Append(" firewall.").Append(section.Section).Append('.').Append(option).Append("='").Append(Quote(entries[i])).Append("'\n");
            }
        }

        // Values are names, zones, ports and addresses, checked before they get here; a quote would
        // still be written the way uci reads it back.
        private static string Quote(string value) => value.Replace("'", "'\\''");
    }
}
