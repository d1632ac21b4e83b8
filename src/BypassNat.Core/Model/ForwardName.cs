namespace BypassNat
{
    /// <summary>
    /// What a forward's name may be. In the model, not in validation, because every reader applies it
    /// to names read back from a router as well as the parser to names a user typed.
    /// </summary>
    public static class ForwardName
    {
        public const int MaxLength = 32;

        /// <summary>Whether a name is safe everywhere it ends up.</summary>
        public static bool IsSafe(string name) =>
            !string.IsNullOrEmpty(name) && name.Length <= MaxLength && HasNameCharacters(name);

        // Names end up in rule comments, nft element comments, file names and log lines: letters,
        // digits, '_', '.' and '-' only (no quoting needed anywhere), starting with a letter or digit.
        // A loop, not a regex: "$" in a .NET regex also matches before a final line break.
        internal static bool HasNameCharacters(string name)
        {
            for (int i = 0; i < name.Length; i++)
            {
                char c = name[i];
                bool alphanumeric = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alphanumeric && (i == 0 || (c != '_' && c != '.' && c != '-'))) return false;
            }

            return true;
        }
    }
}
