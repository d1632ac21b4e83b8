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
            return new PolicyRule { Priority = priority, Selector = selector, Table = table };
        }
    }
}
