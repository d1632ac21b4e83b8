using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using BypassNat.Validation;

namespace BypassNat.Commands
{
    /// <summary>
    /// Builds forward objects from parameters or from pipeline records (Import-Csv rows bind by
    /// property name). Every row is checked, every problem is reported, and the forwards are passed on
    /// only when all rows are good: a CSV with a bad row must never become a smaller desired set.
    /// </summary>
    /// <remarks>
    /// Two parameter sets, for speed: PowerShell's binding of twelve parameters by property name cost
    /// more than Import-Csv itself a row. A record piped with no field given on the command line binds
    /// to InputObject alone (the default set, which the binder tries first) and its fields are read
    /// here, as the binder would read them; once a field is named on the command line (or
    /// -Comment { $_.Name }), the Fields set binds the rest by property name as before.
    /// </remarks>
    [Cmdlet(VerbsCommon.New, "BypassForward", DefaultParameterSetName = RecordSet)]
    [OutputType(typeof(BypassForward))]
    public sealed class NewBypassForwardCommand : PSCmdlet
    {
        // Every field is taken as text and checked by the core: a typed parameter ([int], [ipaddress])
        // would make PowerShell drop a row it cannot convert from the pipeline, with no row number.
        [Parameter(ParameterSetName = FieldsSet, Position = 0, ValueFromPipelineByPropertyName = true)]
        public string Name { get; set; }

        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ProtocolCompleter))]
        public string Protocol { get; set; }

        [Parameter(ParameterSetName = FieldsSet, Position = 1, ValueFromPipelineByPropertyName = true)]
        public string ExternalPort { get; set; }

        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string BypassAddress { get; set; }

        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string BypassPort { get; set; }

        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string InternalAddress { get; set; }

        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string InternalPort { get; set; }

        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string SourceNat { get; set; }

        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string Comment { get; set; }

        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string Enabled { get; set; }

        /// <summary>The network's public (WAN) IPv4 address, so LAN clients can reach the service at it (hairpin).</summary>
        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string PublicAddress { get; set; }

        /// <summary>
        /// The clients the forward admits: IPv4 addresses and prefixes, as an array or one string with
        /// the entries separated by spaces or ';' (a CSV cell). Empty: every client.
        /// </summary>
        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string[] AllowedSource { get; set; }

        /// <summary>
        /// The device's IPv6 address: an interface identifier such as ::20 (it follows the delegated
        /// prefix when that changes) or a full address. Empty: the forward is IPv4 only.
        /// </summary>
        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string InternalIPv6 { get; set; }

        /// <summary>The IPv6 clients the forward admits (AllowedSource may list them too). Empty: every client.</summary>
        [Parameter(ParameterSetName = FieldsSet, ValueFromPipelineByPropertyName = true)]
        public string[] AllowedSourceIPv6 { get; set; }

        /// <summary>A pipeline record, read field by field here (the fast way, and the default set).</summary>
        [Parameter(ParameterSetName = RecordSet, ValueFromPipeline = true, DontShow = true)]
        public PSObject InputObject { get; set; }

        /// <summary>
        /// The record in the Fields set, whose fields PowerShell binds: taken so a row whose columns
        /// match no parameter is still counted and reported, with the record as its error's target.
        /// </summary>
        [Parameter(ParameterSetName = FieldsSet, ValueFromPipeline = true, DontShow = true)]
        public PSObject FieldsRecord { get; set; }

        private const string RecordSet = "Record";
        private const string FieldsSet = "Fields";

        private const int ProgressEvery = 500;
        private readonly List<KeyValuePair<int, BypassForward>> _forwards = new List<KeyValuePair<int, BypassForward>>();
        private readonly Dictionary<int, object> _targets = new Dictionary<int, object>();
        private readonly List<KeyValuePair<int, string>> _badNames = new List<KeyValuePair<int, string>>();
        private readonly List<ForwardIssue> _rowIssues = new List<ForwardIssue>();
        private readonly HashSet<int> _badRows = new HashSet<int>();
        private readonly List<ForwardIssue> _valueIssues = new List<ForwardIssue>();
        private CsvColumns _columns;
        private object _header;
        private int _row;

        protected override void ProcessRecord()
        {
            _row++;
            if (_row % ProgressEvery == 0)
                WriteProgress(new ProgressRecord(1, "New-BypassForward", $"Checked {_row} rows"));
            bool bound = ParameterSetName == FieldsSet;
            PSObject record = bound ? FieldsRecord : InputObject;
            if (_row == 1) CheckColumns(record);
            _valueIssues.Clear();
            ForwardInput input = !bound ? PipelineRecord.Read(record, _row, _valueIssues) : new ForwardInput
            {
                Name = Name,
                Protocol = Protocol,
                ExternalPort = ExternalPort,
                BypassAddress = BypassAddress,
                BypassPort = BypassPort,
                InternalAddress = InternalAddress,
                InternalPort = InternalPort,
                SourceNat = SourceNat,
                Comment = Comment,
                Enabled = Enabled,
                PublicAddress = PublicAddress,
                AllowedSource = AllowedSource == null ? null : string.Join(" ", AllowedSource),
                InternalIPv6 = InternalIPv6,
                AllowedSourceIPv6 = AllowedSourceIPv6 == null ? null : string.Join(" ", AllowedSourceIPv6),
            };

            if (bound) PipelineRecord.CheckDropped(record, input, _row, _valueIssues);

            BypassForward forward = ForwardParser.Parse(input, _row, out IReadOnlyList<ForwardIssue> issues);
            if (forward != null && _valueIssues.Count == 0)
            {
                _forwards.Add(new KeyValuePair<int, BypassForward>(_row, forward));
                return;
            }

            // Only a bad row's record is kept, as its error's target: keeping every record of a 100,000-row
            // CSV until the end held them all in memory (3x Import-Csv's peak) and slowed the whole run.
            _targets[_row] = (object)record ?? input.Name;
            _badNames.Add(new KeyValuePair<int, string>(_row, input.Name));
            _badRows.Add(_row);
            // A value that was no text is its field's one problem, not also "missing".
            _rowIssues.AddRange(_valueIssues);
            _rowIssues.AddRange(issues.Where(i => !_valueIssues.Any(v => v.Field == i.Field)));
        }

        // Records from Import-Csv (or ConvertFrom-Csv) carry the header as their note properties.
        private void CheckColumns(PSObject record)
        {
            if (!(record?.BaseObject is PSCustomObject)) return;
            var columns = record.Properties.Where(p => p.MemberType == PSMemberTypes.NoteProperty).Select(p => p.Name).ToList();
            if (columns.Count == 0) return;
            var known = new List<string>();
            foreach (ParameterMetadata parameter in MyInvocation.MyCommand.Parameters.Values)
                if (parameter.Attributes.OfType<ParameterAttribute>().Any(a => a.ValueFromPipelineByPropertyName))
                {
                    known.Add(parameter.Name);
                    known.AddRange(parameter.Aliases);
                }

            _columns = CsvColumns.Check(columns, known);
            _header = string.Join(",", columns);
            if (_columns.Ignored.Count > 0)
                WriteWarning($"Column(s) {string.Join(", ", _columns.Ignored.Select(c => "'" + c + "'"))} are not BypassNat columns and were ignored. " +
                    $"The columns are {string.Join(", ", known)}.");
        }

        // Every row's name in row order: the good rows' from their forwards, the bad rows' as written.
        private List<KeyValuePair<int, string>> AllNames()
        {
            var names = new List<KeyValuePair<int, string>>(_forwards.Count + _badNames.Count);
            int good = 0, bad = 0;
            while (good < _forwards.Count || bad < _badNames.Count)
                names.Add(bad == _badNames.Count || (good < _forwards.Count && _forwards[good].Key < _badNames[bad].Key)
                    ? new KeyValuePair<int, string>(_forwards[good].Key, _forwards[good++].Value.Name)
                    : _badNames[bad++]);
            return names;
        }

        protected override void EndProcessing()
        {
            if (_row >= ProgressEvery)
                WriteProgress(new ProgressRecord(1, "New-BypassForward", $"Checked {_row} rows") { RecordType = ProgressRecordType.Completed });

            var setIssues = new List<ForwardIssue>(ForwardSetValidator.Check(_forwards));
            // The set check saw the good rows' names; a name shared with a bad row needs every row's.
            if (_badRows.Count > 0) setIssues.AddRange(ForwardSetValidator.DuplicateNames(AllNames(), _badRows));
            foreach (ForwardIssue issue in setIssues) _badRows.Add(issue.Row);

            // A misspelt or ';'-separated header is one problem, named once, not one per row.
            IEnumerable<ForwardIssue> rowIssues = _rowIssues.Concat(setIssues);
            if (_columns != null)
                rowIssues = _columns.WrongDelimiter
                    ? Enumerable.Empty<ForwardIssue>()
                    : rowIssues.Where(i => !(i.ErrorId == "BypassNat.MissingField" && _columns.Misspelt.Contains(i.Field)));
            var report = new List<KeyValuePair<ForwardIssue, object>>();
            foreach (ForwardIssue issue in _columns?.Issues ?? new ForwardIssue[0])
                report.Add(new KeyValuePair<ForwardIssue, object>(issue, _header));
            // A set problem's row parsed: its target is the forward that row made.
            Dictionary<int, BypassForward> parsed = setIssues.Count > 0 ? _forwards.ToDictionary(e => e.Key, e => e.Value) : null;
            foreach (ForwardIssue issue in rowIssues.OrderBy(i => i.Row))
                report.Add(new KeyValuePair<ForwardIssue, object>(_columns != null ? issue.AtLine(issue.Row + 1) : issue,
                    _targets.TryGetValue(issue.Row, out object target) ? target : parsed != null && parsed.TryGetValue(issue.Row, out BypassForward forward) ? forward : null));

            if (_badRows.Count > 0 || report.Count > 0)
                IssueReport.Stop(this, report,
                    $"{_badRows.Count} of {_row} row(s) are not valid{(_columns?.Issues.Count > 0 ? " and the CSV header has a problem" : string.Empty)}. " +
                    "No forward was passed on, so nothing will be applied and every router keeps its forwards.",
                    _row);

            WriteObject(_forwards.Select(entry => entry.Value), true);
        }
    }
}
