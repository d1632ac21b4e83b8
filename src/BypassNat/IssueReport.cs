using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using BypassNat.Validation;

namespace BypassNat.Commands
{
    /// <summary>
    /// Reports every problem of an input and then stops, under every error preference. Each problem
    /// is its own error record (row, field, value, target) where that does not stop the command; under
    /// -ErrorAction Stop or $ErrorActionPreference = 'Stop' (scheduled scripts) the first WriteError
    /// would end the command there, so the one terminating error lists them all instead.
    /// </summary>
    internal static class IssueReport
    {
        public static void Stop(PSCmdlet cmdlet, IReadOnlyList<KeyValuePair<ForwardIssue, object>> issues, string summary, object target)
        {
            bool stopsAtFirst = StopsAtFirstError(cmdlet);
            if (!stopsAtFirst)
                foreach (KeyValuePair<ForwardIssue, object> issue in issues) cmdlet.WriteError(ErrorRecords.From(issue.Key, issue.Value));
            string list = string.Join("\n", issues.Select(i => "  " + i.Key.Message));
            var record = ErrorRecords.Terminating("BypassNat.InvalidForwardSet", ErrorCategory.InvalidData, summary + "\n" + list, target);
            record.ErrorDetails = new ErrorDetails(summary + "\n" + list)
            {
                RecommendedAction = "Fix every problem listed and run the command again; nothing was applied.",
            };
            cmdlet.ThrowTerminatingError(record);
        }

        /// <summary>Whether a non-terminating error would stop this command: -ErrorAction Stop, or the caller's preference.</summary>
        public static bool StopsAtFirstError(PSCmdlet cmdlet)
        {
            object preference = cmdlet.MyInvocation.BoundParameters.TryGetValue("ErrorAction", out object bound)
                ? bound
                : cmdlet.GetVariableValue("ErrorActionPreference");
            if (preference is PSObject wrapped) preference = wrapped.BaseObject;
            return preference is ActionPreference action
                ? action == ActionPreference.Stop
                : string.Equals(preference?.ToString(), nameof(ActionPreference.Stop), StringComparison.OrdinalIgnoreCase);
        }
    }
}
