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

        public string Field { get; }
        public string Value { get; }
        public string Reason { get; }

        public string Message
        {
            get
            {
                string where = Row > 0 ? $"Row {Row}: " : string.Empty;
                return $"{where}{Field} '{Value}' is not valid: {Reason}.";
            }
        }

        public override string ToString() => Message;
    }
}
