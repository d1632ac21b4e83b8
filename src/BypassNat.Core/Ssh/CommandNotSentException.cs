using System;

namespace BypassNat.Ssh
{
    /// <summary>
    /// The connection failed before the router received the command (it was closed, or the channel
    /// for the command could not be opened): nothing ran on the router, so running the command again
    /// on a new connection changes nothing twice. A failure after that point is a plain
    /// BypassNat.ConnectionLost, because the script may have run in part.
    /// </summary>
    public sealed class CommandNotSentException : BypassNatException
    {
        public CommandNotSentException(string message, object target, Exception inner = null)
            : base("BypassNat.ConnectionLost", FailureKind.ConnectionError, message, target, inner)
        {
        }
    }
}
