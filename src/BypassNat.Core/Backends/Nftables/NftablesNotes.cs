using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace BypassNat.Backends.Nftables
{
    /// <summary>
    /// The users' comments in the nftables table. nft keeps at most 128 bytes of comment an element,
    /// too few for a forward's metadata and a comment in Chinese, so the comments live in a set of
    /// their own (nothing matches against it): each note split into pieces that fit, keyed by the
    /// forward's place in the set and the piece's number, so they read back in order.
    /// </summary>
    public static class NftablesNotes
    {
        public const string Key = "inet_service . inet_service";

        public static IEnumerable<string> Elements(IReadOnlyList<BypassForward> forwards)
        {
            for (int i = 0; i < forwards.Count; i++)
            {
                BypassForward forward = forwards[i];
                if (forward.Comment.Length == 0) continue;
                string prefix = $"{RuleComment.Prefix}name={forward.Name};note=";
                int room = RuleComment.NftablesMaxBytes - Encoding.UTF8.GetByteCount(prefix);
                int part = 0;
                foreach (string piece in Pieces(RuleComment.EncodeNote(forward.Comment), room))
                    yield return $"{i + 1} . {part++} comment \"{prefix}{piece}\"";
            }
        }

        // Splits between whole characters and whole %XX escapes, each piece at most room bytes.
        private static IEnumerable<string> Pieces(string encoded, int room)
        {
            var piece = new StringBuilder();
            int bytes = 0;
            for (int i = 0; i < encoded.Length;)
            {
                int length = encoded[i] == '%' ? 3 : char.IsHighSurrogate(encoded[i]) ? 2 : 1;
                string unit = encoded.Substring(i, Math.Min(length, encoded.Length - i));
                int size = Encoding.UTF8.GetByteCount(unit);
                if (bytes + size > room)
                {
                    yield return piece.ToString();
                    piece.Clear();
                    bytes = 0;
                }

                piece.Append(unit);
                bytes += size;
                i += unit.Length;
            }

            if (piece.Length > 0) yield return piece.ToString();
        }

        private static readonly Regex Element = new Regex(
            @"(?<index>\d+)\s*\.\s*(?<part>\d+)\s+comment\s+""(?<comment>[^""]*)""", RegexOptions.CultureInvariant);

        /// <summary>The notes in an <c>nft list table</c> listing, by forward name; a piece that does not read is a problem.</summary>
        public static Dictionary<string, string> Read(string listing, List<string> problems)
        {
            var notes = new Dictionary<string, string>(StringComparer.Ordinal);
            Match block = Regex.Match(listing, @"set " + NftablesTable.NotesSet + @" \{[^}]*?elements = \{(?<elements>[^}]*)\}", RegexOptions.Singleline);
            if (!block.Success) return notes;
            var pieces = new List<(string Name, int Index, int Part, string Text)>();
            foreach (Match m in Element.Matches(block.Groups["elements"].Value))
            {
                string comment = m.Groups["comment"].Value;
                Match fields = Regex.Match(comment, "^" + Regex.Escape(RuleComment.Prefix) + @"name=(?<name>[^;]+);note=(?<note>.*)$");
                if (!fields.Success || !ForwardName.IsSafe(fields.Groups["name"].Value))
                {
                    problems.Add($"set {NftablesTable.NotesSet}: {m.Value}");
                    continue;
                }

                pieces.Add((fields.Groups["name"].Value, int.Parse(m.Groups["index"].Value), int.Parse(m.Groups["part"].Value), fields.Groups["note"].Value));
            }

            foreach (var note in pieces.GroupBy(p => p.Name, StringComparer.Ordinal))
            {
                string encoded = string.Concat(note.OrderBy(p => p.Index).ThenBy(p => p.Part).Select(p => p.Text));
                try
                {
                    notes[note.Key] = Uri.UnescapeDataString(encoded);
                }
                catch (UriFormatException)
                {
                    problems.Add($"set {NftablesTable.NotesSet}: the note of '{note.Key}' does not read");
                }
            }

            return notes;
        }
    }
}
