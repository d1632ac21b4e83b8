using System;
using System.Globalization;

namespace BypassNat.Proxy
{
    /// <summary>One <c>ip rule</c> line: its priority, what it selects and the table it looks up.</summary>
    public sealed class PolicyRule
    {
        public int Priority { get; private set; }
        public string Selector { get; private set; }
        public string Table { get; private set; }

        /// <summary>The fwmark the rule selects by (value only, lower-case hex), or null.</summary>
        public string Mark { get; private set; }

        /// <summary>"0x162/0xffffffff" or "354" as one comparable value: "0x162".</summary>
        internal static string MarkValue(string mark)
        {
            string value = mark.Split('/')[0];
            bool hex = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
            return ulong.TryParse(hex ? value.Substring(2) : value, hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture, out ulong number)
                ? "0x" + number.ToString("x", CultureInfo.InvariantCulture) : value.ToLowerInvariant();
        }

        /// <summary>The device the table's default route leaves by (set once it is known to be a tunnel's).</summary>
        public string Device { get; internal set; }

        internal static PolicyRule Parse(string line)
        {
            int colon = line.IndexOf(':');
            if (colon <= 0 || !int.TryParse(line.Substring(0, colon).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int priority)) return null;
            string selector = line.Substring(colon + 1).Trim();
            string[] words = selector.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            string table = ProxyCapture.After(words, "lookup") ?? ProxyCapture.After(words, "table");
            if (table == null || table == "local" || table == "main" || table == "default") return null;
            string mark = ProxyCapture.After(words, "fwmark");
            return new PolicyRule { Priority = priority, Selector = selector, Table = table, Mark = mark == null ? null : MarkValue(mark) };
        }
    }
}
