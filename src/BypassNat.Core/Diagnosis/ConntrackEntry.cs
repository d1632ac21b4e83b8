using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace BypassNat.Diagnosis
{
    /// <summary>
    /// One line of <c>conntrack -L</c>: the original direction (client -> router), the reply direction
    /// the router expects (after DNAT, from the device), and whether any reply was seen.
    /// </summary>
    public sealed class ConntrackEntry
    {
        public string Protocol { get; private set; }
        public string State { get; private set; }
        public IPAddress Source { get; private set; }
        public IPAddress Destination { get; private set; }
        public int DestinationPort { get; private set; }
        public IPAddress ReplySource { get; private set; }
        public int ReplySourcePort { get; private set; }
        public bool Unreplied { get; private set; }

        private static readonly Regex Field = new Regex(@"\b(src|dst|sport|dport)=(\S+)", RegexOptions.CultureInvariant);

        /// <summary>Null for a line that is not a TCP or UDP entry (ICMP, summary lines).</summary>
        public static ConntrackEntry Parse(string line)
        {
            string[] words = Regex.Split(line.Trim(), @"\s+");
            if (words.Length < 4 || (words[0] != "tcp" && words[0] != "udp")) return null;
            var values = new List<KeyValuePair<string, string>>();
            foreach (Match m in Field.Matches(line)) values.Add(new KeyValuePair<string, string>(m.Groups[1].Value, m.Groups[2].Value));
            // Original direction first, then the reply direction: src dst sport dport, twice.
            if (values.Count < 8) return null;
            if (!IPAddress.TryParse(values[0].Value, out IPAddress source) || !IPAddress.TryParse(values[1].Value, out IPAddress destination)
                || !IPAddress.TryParse(values[4].Value, out IPAddress replySource)
                || !int.TryParse(values[3].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int dport)
                || !int.TryParse(values[6].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int replySport))
                return null;
            return new ConntrackEntry
            {
                Protocol = words[0],
                State = words[0] == "tcp" && !words[3].Contains("=") ? words[3] : null,
                Source = source,
                Destination = destination,
                DestinationPort = dport,
                ReplySource = replySource,
                ReplySourcePort = replySport,
                Unreplied = line.Contains("[UNREPLIED]"),
            };
        }
    }
}
