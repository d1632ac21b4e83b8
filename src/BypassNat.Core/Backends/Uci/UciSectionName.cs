using System.Globalization;
using System.Text;

namespace BypassNat.Backends.Uci
{
    /// <summary>
    /// The UCI section that holds one forward on an OpenWrt main router: <c>bypassnat_</c> and the
    /// forward's name. Section names allow only letters, digits and <c>_</c>, while forward names also
    /// allow <c>.</c> and <c>-</c>, so those (and <c>_</c> itself) are written as <c>_</c> and two hex
    /// digits: every forward name has exactly one section name, and reads back to the same name.
    /// The prefix is what keeps BypassNat away from every section it did not write.
    /// </summary>
    public static class UciSectionName
    {
        public const string Prefix = "bypassnat_";

        // The main hop's own section (RouterHop.Main's -Persist include). A forward's section escapes every
        // "_" in its name as _5f, so a double underscore can never be one of them.
        public const string MainHop = "bypassnat__main";

        public static string For(string forwardName)
        {
            var name = new StringBuilder(Prefix);
            foreach (char c in forwardName)
            {
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) name.Append(c);
                else name.Append('_').Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            }

            return name.ToString();
        }

        public static bool IsOwned(string section) => section.StartsWith(Prefix, System.StringComparison.Ordinal);

        /// <summary>The forward name a section of ours stands for; false for a section name BypassNat never writes.</summary>
        public static bool TryParse(string section, out string forwardName)
        {
            forwardName = null;
            if (!IsOwned(section) || section.Length == Prefix.Length) return false;
            var name = new StringBuilder();
            for (int i = Prefix.Length; i < section.Length; i++)
            {
                char c = section[i];
                if (c != '_')
                {
                    name.Append(c);
                    continue;
                }

                if (i + 2 >= section.Length) return false;
                if (!int.TryParse(section.Substring(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code)) return false;
                name.Append((char)code);
                i += 2;
            }

            forwardName = name.ToString();
            return For(forwardName) == section;
        }
    }
}
