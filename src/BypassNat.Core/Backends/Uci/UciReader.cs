using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace BypassNat.Backends.Uci
{
    /// <summary>What a main router's firewall config holds of BypassNat: its redirects, and sections with its prefix that are not one.</summary>
    public sealed class UciState
    {
        public UciState(IReadOnlyList<UciRedirect> redirects, IReadOnlyList<string> strays)
        {
            Redirects = redirects;
            Strays = strays;
        }

        public IReadOnlyList<UciRedirect> Redirects { get; }

        /// <summary>Sections named with BypassNat's prefix that are not a redirect it could have written; the next apply deletes them.</summary>
        public IReadOnlyList<string> Strays { get; }
    }

    /// <summary>Reads BypassNat's sections out of <c>uci show firewall</c>; every other section is skipped unread.</summary>
    public static class UciReader
    {
        private static readonly Regex SectionLine = new Regex(@"^firewall\.([A-Za-z0-9_]+)=([A-Za-z0-9_]+)$", RegexOptions.CultureInvariant);
        private static readonly Regex OptionLine = new Regex(@"^firewall\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)=(.*)$", RegexOptions.CultureInvariant);

        public static UciState Parse(string uciShow)
        {
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            var options = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
            var order = new List<string>();
            foreach (string raw in uciShow.Split('\n'))
            {
                string line = raw.TrimEnd('\r');
                Match section = SectionLine.Match(line);
                if (section.Success)
                {
                    if (!Owned(section.Groups[1].Value)) continue;
                    types[section.Groups[1].Value] = section.Groups[2].Value;
                    order.Add(section.Groups[1].Value);
                    continue;
                }

                Match option = OptionLine.Match(line);
                if (!option.Success || !Owned(option.Groups[1].Value)) continue;
                if (!options.TryGetValue(option.Groups[1].Value, out Dictionary<string, string> values))
                    options[option.Groups[1].Value] = values = new Dictionary<string, string>(StringComparer.Ordinal);
                values[option.Groups[2].Value] = Unquote(option.Groups[3].Value);
            }

            var redirects = new List<UciRedirect>();
            var strays = new List<string>();
            foreach (string name in order)
            {
                if (types[name] == "redirect" && UciSectionName.TryParse(name, out string forwardName) && ForwardName.IsSafe(forwardName))
                    redirects.Add(new UciRedirect(forwardName, options.TryGetValue(name, out var values) ? values : new Dictionary<string, string>()));
                else
                    strays.Add(name);
            }

            return new UciState(redirects, strays);
        }

        // The main hop's -Persist include (bypassnat__main) shares the prefix but is not a redirect:
        // an apply of the redirects must leave it alone.
        private static bool Owned(string section) =>
            UciSectionName.IsOwned(section) && section != UciSectionName.MainHop;

        /// <summary>
        /// <c>uci show</c> quotes a value in single quotes, writing a quote inside it as <c>'\''</c>; a list
        /// is several quoted words, kept as written (BypassNat writes no lists, so it simply differs).
        /// </summary>
        internal static string Unquote(string value)
        {
            if (value.Length >= 2 && value[0] == '\'' && value[value.Length - 1] == '\'' && !Regex.IsMatch(value.Substring(1, value.Length - 2).Replace("'\\''", ""), "'"))
                return value.Substring(1, value.Length - 2).Replace("'\\''", "'");
            return value;
        }
    }
}
