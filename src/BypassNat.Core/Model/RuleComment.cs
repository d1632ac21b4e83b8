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

        // iptables' comment match stores at most 255 bytes; nft comments allow 128 on older releases.
        public const int MaxLength = 128;

        public RuleComment(string name, PortRange externalPort, string comment, string role = null)
        {
            Name = name;
            ExternalPort = externalPort;
            Comment = comment ?? string.Empty;
            Role = role;
        }

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
            if (Comment.Length > 0) text += ";note=" + Uri.EscapeDataString(Comment);
            return text;
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
            if (!fields.TryGetValue("name", out string name) || !ForwardParser.IsSafeName(name)) return null;
            if (!fields.TryGetValue("ext", out string ext) || !PortRange.TryParse(ext, out PortRange externalPort, out _)) return null;
            fields.TryGetValue("note", out string note);
            fields.TryGetValue("role", out string role);
            string comment;
            try
            {
                comment = note == null ? string.Empty : Uri.UnescapeDataString(note);
            }
            catch (UriFormatException)
            {
                return null;
            }

            return new RuleComment(name, externalPort, comment, role);
        }
    }
}
