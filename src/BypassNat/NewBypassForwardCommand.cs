using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace BypassNat.Commands
{
    /// <summary>
    /// Builds forward objects from parameters or from pipeline records (Import-Csv rows bind by
    /// property name). Every row is checked, every problem is reported, and the forwards are passed on
    /// only when all rows are good: a CSV with a bad row must never become a smaller desired set.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "BypassForward")]
    [OutputType(typeof(BypassForward))]
    public sealed class NewBypassForwardCommand : PSCmdlet
    {
        // Every field is taken as text and checked by the core: a parameter-binding failure would
        // silently drop the row from the pipeline instead of reporting it by number.
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        public object Name { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object Protocol { get; set; }

        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
        public object ExternalPort { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object BypassAddress { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object BypassPort { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object InternalAddress { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object InternalPort { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object SourceNat { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object Comment { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object Enabled { get; set; }

        /// <summary>The network's public (WAN) IPv4 address, so LAN clients can reach the service at it (hairpin).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public object PublicAddress { get; set; }

        /// <summary>Takes every record, so a row whose columns match no parameter is still counted and reported.</summary>
        [Parameter(ValueFromPipeline = true, DontShow = true)]
        public PSObject InputObject { get; set; }

        private readonly List<KeyValuePair<int, BypassForward>> _forwards = new List<KeyValuePair<int, BypassForward>>();
        private readonly Dictionary<int, object> _targets = new Dictionary<int, object>();
        private int _row;
        private int _badRows;

        protected override void ProcessRecord()
        {
            _row++;
            object target = (object)InputObject ?? Text(Name);
            _targets[_row] = target;
            var input = new ForwardInput
            {
                Name = Text(Name),
                Protocol = Text(Protocol),
                ExternalPort = Text(ExternalPort),
                BypassAddress = Text(BypassAddress),
                BypassPort = Text(BypassPort),
                InternalAddress = Text(InternalAddress),
                InternalPort = Text(InternalPort),
                SourceNat = Text(SourceNat),
                Comment = Text(Comment),
                Enabled = Text(Enabled),
                PublicAddress = Text(PublicAddress),
            };

            BypassForward forward = ForwardParser.Parse(input, _row, out IReadOnlyList<ForwardIssue> issues);
            if (forward != null)
            {
                _forwards.Add(new KeyValuePair<int, BypassForward>(_row, forward));
                return;
            }

            _badRows++;
            foreach (ForwardIssue issue in issues) WriteError(ErrorRecords.From(issue, target));
        }

        protected override void EndProcessing()
        {
            var badRows = new HashSet<int>();
            foreach (ForwardIssue issue in ForwardSetValidator.Check(_forwards))
            {
                badRows.Add(issue.Row);
                WriteError(ErrorRecords.From(issue, _targets[issue.Row]));
            }

            int bad = _badRows + badRows.Count;
            if (bad > 0)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.InvalidForwardSet", ErrorCategory.InvalidData,
                    $"{bad} of {_row} row(s) are not valid (see the errors above). No forward was passed on, so nothing will be applied and every router keeps its forwards.",
                    _row));

            foreach (KeyValuePair<int, BypassForward> entry in _forwards) WriteObject(entry.Value);
        }

        private static string Text(object value)
        {
            object inner = value is PSObject wrapped ? wrapped.BaseObject : value;
            switch (inner)
            {
                case null: return null;
                case SwitchParameter flag: return flag.IsPresent ? "true" : "false";
                case bool flag: return flag ? "true" : "false";
                case IFormattable formattable: return formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture);
                default: return inner.ToString();
            }
        }
    }
}
