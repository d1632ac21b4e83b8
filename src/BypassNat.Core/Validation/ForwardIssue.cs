namespace BypassNat.Validation
{
    /// <summary>
    /// Why one input row (or one forward in a set) cannot be used: which row, which field, which value.
    /// </summary>
    public sealed class ForwardIssue
    {
        public ForwardIssue(string errorId, int row, string field, string value, string reason)
        {
            ErrorId = errorId;
            Row = row;
            Field = field;
            Value = value;
            Reason = reason;
        }

        /// <summary>A stable identifier such as <c>BypassNat.InvalidPort</c>, for scripts to match on.</summary>
        public string ErrorId { get; }

        /// <summary>1-based position of the record in the input (the CSV's data row); 0 when unknown.</summary>
        public int Row { get; }

        /// <summary>The line of the CSV file the row came from (the header is line 1); 0 when the input was not a CSV.</summary>
        public int Line { get; private set; }

        /// <summary>The same issue, placed at a line of the CSV file.</summary>
        public ForwardIssue AtLine(int line) => new ForwardIssue(ErrorId, Row, Field, Value, Reason) { Line = line };

        public string Field { get; }
        public string Value { get; }
        public string Reason { get; }

        public string Message
        {
            get
            {
                if (Row == 0 && Field == "Column") return $"Column '{Shown(Value)}' is not valid: {Reason}.";
                if (Row == 0 && Field == "Columns") return $"The CSV header '{Shown(Value)}' is not valid: {Reason}.";
                string where = Row > 0 && Line > 0 ? $"Row {Row} (CSV line {Line}): " : Row > 0 ? $"Row {Row}: " : string.Empty;
                return $"{where}{Field} '{Shown(Value)}' is not valid: {Reason}.";
            }
        }

        private const int ShownLength = 60;

        /// <summary>
        /// The value as a message can show it: on one line (control characters escaped, so a value with
        /// a line break cannot fake a second message) and cut short (a 10 MB field is not 10 MB of error).
        /// </summary>
        public static string Shown(string value)
        {
            if (string.IsNullOrEmpty(value)) return string.Empty;
            var text = new System.Text.StringBuilder();
            int used = 0;
            for (; used < value.Length && text.Length < ShownLength; used++)
            {
                char c = value[used];
                if (c == '\n') text.Append("\\n");
                else if (c == '\r') text.Append("\\r");
                else if (c == '\t') text.Append("\\t");
                // Control and format characters (NUL, a right-to-left override) would hide what the value is.
                else if (char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
                    text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                else text.Append(c);
            }

            return used < value.Length ? $"{text}... ({value.Length} characters)" : text.ToString();
        }
    }
}
