using System;
using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Validation
{
    /// <summary>
    /// Checks a CSV's header before its rows: a misspelt column (InternalAdress) would otherwise be
    /// ignored and every row would say its InternalAddress is missing, and a ';'-separated file read
    /// with ',' arrives as one column whose name holds the whole header.
    /// </summary>
    public sealed class CsvColumns
    {
        private CsvColumns(IReadOnlyList<ForwardIssue> issues, IReadOnlyList<string> ignored, IReadOnlyCollection<string> misspelt)
        {
            Issues = issues;
            Ignored = ignored;
            Misspelt = misspelt;
        }

        /// <summary>Problems with the header itself (row 0).</summary>
        public IReadOnlyList<ForwardIssue> Issues { get; }

        /// <summary>Columns that are like no known column: extra data, ignored.</summary>
        public IReadOnlyList<string> Ignored { get; }

        /// <summary>The known columns a misspelt one was meant to be; their rows' "missing" errors say nothing new.</summary>
        public IReadOnlyCollection<string> Misspelt { get; }

        /// <summary>Whether the file looks ';'-separated: then no row can be read, and the rows' errors would only repeat it.</summary>
        public bool WrongDelimiter => Issues.Any(i => i.ErrorId == "BypassNat.WrongDelimiter");

        public static CsvColumns Check(IReadOnlyCollection<string> columns, IReadOnlyCollection<string> known)
        {
            var issues = new List<ForwardIssue>();
            var ignored = new List<string>();
            var misspelt = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var knownSet = new HashSet<string>(known, StringComparer.OrdinalIgnoreCase);
            if (columns.Count == 1 && columns.First().Contains(";"))
            {
                string header = columns.First();
                issues.Add(new ForwardIssue("BypassNat.WrongDelimiter", 0, "Columns", header,
                    "the file has one column whose name holds the whole header, so it looks ';'-separated (as Excel saves CSV in many countries); " +
                    "read it with Import-Csv -Delimiter ';'"));
                return new CsvColumns(issues, ignored, misspelt);
            }

            foreach (string column in columns.Where(c => !knownSet.Contains(c)))
            {
                string closest = Closest(column, known);
                if (closest == null)
                {
                    ignored.Add(column);
                    continue;
                }

                misspelt.Add(closest);
                issues.Add(new ForwardIssue("BypassNat.UnknownColumn", 0, "Column", column,
                    $"there is no column '{column}'; did you mean '{closest}'? Rename the column in the file's first line"));
            }

            return new CsvColumns(issues, ignored, misspelt);
        }

        /// <summary>The known name a column is most likely a typo of, or null when none is close.</summary>
        public static string Closest(string column, IEnumerable<string> known)
        {
            string squeezed = Squeeze(column);
            string best = null;
            int bestDistance = int.MaxValue;
            foreach (string name in known)
            {
                int distance = Distance(squeezed, Squeeze(name));
                if (distance < bestDistance) { best = name; bestDistance = distance; }
            }

            // One slip per four letters, at least two: InternalAdress -> InternalAddress, but Notes is not Name.
            return best != null && bestDistance <= Math.Max(2, squeezed.Length / 4) ? best : null;
        }

        // "Internal Address" and "internal_address" are the same column to a reader.
        private static string Squeeze(string text) =>
            new string((text ?? string.Empty).Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray());

        // Edit distance (insertions, deletions, substitutions).
        private static int Distance(string a, string b)
        {
            var previous = new int[b.Length + 1];
            var current = new int[b.Length + 1];
            for (int j = 0; j <= b.Length; j++) previous[j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                current[0] = i;
                for (int j = 1; j <= b.Length; j++)
                    current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                int[] swap = previous; previous = current; current = swap;
            }

            return previous[b.Length];
        }
    }
}
