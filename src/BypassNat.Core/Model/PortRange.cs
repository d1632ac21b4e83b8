using System;
using System.Globalization;

namespace BypassNat
{
    /// <summary>A single port (Start == End) or an inclusive range of ports.</summary>
    public readonly struct PortRange : IEquatable<PortRange>
    {
        public const int MinPort = 1;
        public const int MaxPort = 65535;

        public PortRange(int start, int end)
        {
            if (start < MinPort || start > MaxPort) throw new ArgumentOutOfRangeException(nameof(start));
            if (end < start || end > MaxPort) throw new ArgumentOutOfRangeException(nameof(end));
            Start = start;
            End = end;
        }

        public int Start { get; }
        public int End { get; }
        public int Count => End - Start + 1;
        public bool IsSingle => Start == End;

        public bool Contains(int port) => port >= Start && port <= End;
        public bool Overlaps(PortRange other) => Start <= other.End && other.Start <= End;

        /// <summary>Parses "80" or "6000-6010" (spaces around the dash allowed); returns why not when it cannot.</summary>
        public static bool TryParse(string text, out PortRange range, out string reason)
        {
            range = default;
            reason = null;
            if (string.IsNullOrWhiteSpace(text))
            {
                reason = "a port or a range such as 6000-6010 is required";
                return false;
            }

            text = text.Trim();
            int dash = text.IndexOf('-');
            if (dash >= 0 && text.IndexOf('-', dash + 1) >= 0)
            {
                reason = "a range has exactly one dash, as in 6000-6010";
                return false;
            }

            if (!TryParsePort(dash < 0 ? text : text.Substring(0, dash), out int start, out reason)) return false;
            int end = start;
            if (dash >= 0 && !TryParsePort(text.Substring(dash + 1), out end, out reason)) return false;
            if (end < start)
            {
                reason = "a range must run from the lower port to the higher one";
                return false;
            }

            range = new PortRange(start, end);
            return true;
        }

        private static bool TryParsePort(string text, out int port, out string reason)
        {
            reason = null;
            text = text.Trim();
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port))
            {
                reason = "a port is a whole number from 1 to 65535";
                return false;
            }

            if (port < MinPort || port > MaxPort)
            {
                reason = "a port must be between 1 and 65535";
                return false;
            }

            return true;
        }

        public static PortRange Parse(string text)
        {
            if (!TryParse(text, out PortRange range, out string reason))
                throw new FormatException($"'{text}' is not a port or port range: {reason}.");
            return range;
        }

        /// <summary>The form CSV files and users write: "80" or "6000-6010".</summary>
        public override string ToString() => IsSingle
            ? Start.ToString(CultureInfo.InvariantCulture)
            : Start.ToString(CultureInfo.InvariantCulture) + "-" + End.ToString(CultureInfo.InvariantCulture);

        public bool Equals(PortRange other) => Start == other.Start && End == other.End;
        public override bool Equals(object obj) => obj is PortRange other && Equals(other);
        public override int GetHashCode() => (Start * 397) ^ End;
        public static bool operator ==(PortRange a, PortRange b) => a.Equals(b);
        public static bool operator !=(PortRange a, PortRange b) => !a.Equals(b);
    }
}
