using System;

namespace BypassNat
{
    /// <summary>What kind of failure, so the cmdlets can pick the matching PowerShell error category.</summary>
    public enum FailureKind
    {
        InvalidData,
        ConnectionError,
        SecurityError,
        AuthenticationError,
        PermissionDenied,
        NotInstalled,
        InvalidResult,
        InvalidOperation,
    }

    /// <summary>A failure the user can act on: a stable id, a kind, and a message that says what to do.</summary>
    public class BypassNatException : Exception
    {
        public BypassNatException(string errorId, FailureKind kind, string message, object target = null, Exception inner = null)
            : base(message, inner)
        {
            ErrorId = errorId;
            Kind = kind;
            Target = target;
        }

        public string ErrorId { get; }
        public FailureKind Kind { get; }
        public object Target { get; }
    }
}
