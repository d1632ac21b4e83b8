using System;
using System.Collections.Generic;

namespace BypassNat
{
    /// <summary>
    /// The metadata BypassNat writes into each rule's comment so a forward can be read back from the
    /// router whole: the rule itself does not show the main router's ExternalPort, the forward's name
    /// or the user's comment. The text uses no spaces or quotes (the user's comment is percent-encoded),
    /// so it survives every tool's quoting unchanged.
    /// </summary>
    public sealed class RuleComment
    {
        public const string Prefix = "bypassnat;";

        /// <summary>
        /// The longest comment a forward can have, counted as the user typed it: a Chinese character,
        /// a Latin letter and an emoji count one each. The one source for the parser, the set checks
        /// and the help. Every comment this long fits on the router whatever its script: iptables keeps
        /// 255 bytes a rule comment (the longest name, external range and role take 82, leaving 173 for
        /// 40 characters of at most 4 bytes each), and nftables, which keeps 128 bytes an element
        /// comment, holds the note in a set of its own, split over as many elements as it needs.
        /// </summary>
        public const int MaxCommentCharacters = 40;

        /// <summary>What the kernel keeps of a comment, in bytes: iptables' comment match, and nft.</summary>
        public const int IptablesMaxBytes = 255;
        public const int NftablesMaxBytes = 128;

        public RuleComment(string name, PortRange externalPort, string comment, string role = null, System.Net.IPAddress via = null)
        {
            Name = name;
            ExternalPort = externalPort;
            Comment = comment ?? string.Empty;
            Role = role;
            Via = via;
        }

        /// <summary>
        /// The forward's BypassAddress, on the IPv6 rules of a forward without InternalAddress: no IPv4 rule
        /// carries it there, and reading the forward back needs it. Null on every other rule.
        /// </summary>
        public System.Net.IPAddress Via { get; }

        public string Name { get; }
        public PortRange ExternalPort { get; }
        public string Comment { get; }

        /// <summary>
        /// Which of a forward's rules this is: null for the DNAT from the bypass address, "public" for
        /// the hairpin DNAT from the public address, "reflect" and "keep" for the source-NAT decisions.
        /// </summary>
        public string Role { get; }

        public const string PublicRole = "public";
        public const string ReflectRole = "reflect";
        public const string KeepRole = "keep";

        public static RuleComment For(BypassForward forward, string role = null) =>
            new RuleComment(forward.Name, forward.ExternalPort, forward.Comment, role);

        public string Encode()
        {
            string text = $"{Prefix}name={Name};ext={ExternalPort}";
            if (Role != null) text += ";role=" + Role;
            if (Via != null) text += ";via=" + Via;
            if (Comment.Length > 0) text += ";note=" + EncodeNote(Comment);
            return text;
        }

        /// <summary>The same metadata without the user's comment (nftables keeps that apart).</summary>
        public RuleComment WithoutNote() => new RuleComment(Name, ExternalPort, null, Role, Via);

        /// <summary>Characters as the user typed them: code points, so a character outside the BMP counts one.</summary>
        public static int CountCharacters(string text)
        {
            int count = 0;
            for (int i = 0; i < (text ?? string.Empty).Length; i++)
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
                count++;
            }

            return count;
        }

        /// <summary>
        /// The comment as it is stored: letters of every script as they are (UTF-8), and only what a
        /// quote, a field separator or a shell could trip over percent-encoded, so a Chinese comment
        /// costs 3 bytes a character, not 9. Reading back is <see cref="Uri.UnescapeDataString"/>,
        /// which also reads comments written fully percent-encoded by earlier releases.
        /// </summary>
        public static string EncodeNote(string comment)
        {
            var text = new System.Text.StringBuilder();
            for (int i = 0; i < comment.Length; i++)
            {
                char c = comment[i];
                if (char.IsHighSurrogate(c) && i + 1 < comment.Length && char.IsLowSurrogate(comment[i + 1]))
                {
                    text.Append(c).Append(comment[++i]);
                    continue;
                }

                // ASCII only: a non-ASCII character stays as it is, so none costs more than 4 bytes
                // (readers split on ASCII blanks only). The parser refuses control characters and
                // unpaired surrogates before a comment gets here.
                if (c < 0x80 && (char.IsWhiteSpace(c) || char.IsControl(c) || "\"%';\\`$=&<>|(){}[]*?!#~^".IndexOf(c) >= 0))
                    foreach (byte b in System.Text.Encoding.UTF8.GetBytes(c.ToString())) text.Append('%').Append(b.ToString("X2"));
                else
                    text.Append(c);
            }

            return text.ToString();
        }

        /// <summary>Reads a comment written by <see cref="Encode"/>; null for anyone else's comment.</summary>
        public static RuleComment TryDecode(string text)
        {
            if (text == null || !text.StartsWith(Prefix, StringComparison.Ordinal)) return null;
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string part in text.Substring(Prefix.Length).Split(';'))
            {
                int eq = part.IndexOf('=');
                if (eq > 0) fields[part.Substring(0, eq)] = part.Substring(eq + 1);
            }

            // A name from the router is text anyone with root there could have written: it must pass
            // the same rule as a name from a CSV before it goes anywhere near a script.
            if (!fields.TryGetValue("name", out string name) || !ForwardName.IsSafe(name)) return null;
            if (!fields.TryGetValue("ext", out string ext) || !PortRange.TryParse(ext, out PortRange externalPort, out _)) return null;
            fields.TryGetValue("note", out string note);
            fields.TryGetValue("role", out string role);
            System.Net.IPAddress via = null;
            if (fields.TryGetValue("via", out string viaText)
                && (!System.Net.IPAddress.TryParse(viaText, out via) || via.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || via.ToString() != viaText))
                return null;
            string comment;
            try
            {
                comment = note == null ? string.Empty : Uri.UnescapeDataString(note);
            }
            catch (UriFormatException)
            {
                return null;
            }

            return new RuleComment(name, externalPort, comment, role, via);
        }
    }
}
