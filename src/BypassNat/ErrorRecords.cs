using System.Management.Automation;
using BypassNat.Validation;

namespace BypassNat.Commands
{
    /// <summary>Turns the core's failures into PowerShell error records with an id, a category and a target.</summary>
    internal static class ErrorRecords
    {
        public static ErrorRecord From(BypassNatException failure) =>
            new ErrorRecord(failure, failure.ErrorId, Category(failure.Kind), failure.Target);

        public static ErrorRecord From(ForwardIssue issue, object target)
        {
            var record = new ErrorRecord(new BypassNatException(issue.ErrorId, FailureKind.InvalidData, issue.Message, target),
                issue.ErrorId, ErrorCategory.InvalidData, target);
            record.ErrorDetails = new ErrorDetails(issue.Message)
            {
                RecommendedAction = "Fix the field in that row and run the command again; nothing was applied.",
            };
            return record;
        }

        public static ErrorRecord Terminating(string errorId, ErrorCategory category, string message, object target) =>
            new ErrorRecord(new BypassNatException(errorId, FailureKind.InvalidData, message, target), errorId, category, target);

        private static ErrorCategory Category(FailureKind kind)
        {
            switch (kind)
            {
                case FailureKind.InvalidData: return ErrorCategory.InvalidData;
                case FailureKind.ConnectionError: return ErrorCategory.ConnectionError;
                case FailureKind.SecurityError: return ErrorCategory.SecurityError;
                case FailureKind.AuthenticationError: return ErrorCategory.AuthenticationError;
                case FailureKind.PermissionDenied: return ErrorCategory.PermissionDenied;
                case FailureKind.NotInstalled: return ErrorCategory.NotInstalled;
                case FailureKind.InvalidResult: return ErrorCategory.InvalidResult;
                default: return ErrorCategory.InvalidOperation;
            }
        }
    }
}
