namespace BypassNat
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
                if (Row == 0 && Field == "Column") return $"Column '{Value}' is not valid: {Reason}.";
                if (Row == 0 && Field == "Columns") return $"The CSV header '{Value}' is not valid: {Reason}.";
                string where = Row > 0 && Line > 0 ? $"Row {Row} (CSV line {Line}): " : Row > 0 ? $"Row {Row}: " : string.Empty;
                return $"{where}{Field} '{Value}' is not valid: {Reason}.";
            }
        }

        public override string ToString() => Message;
    }
}
