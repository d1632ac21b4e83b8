using System;
using System.Threading;

namespace BypassNat.Ssh
{
    /// <summary>
    /// Opens SSH connections. The implementation (SSH.NET) lives in BypassNat.SshNet, which the module
    /// loads in a context of its own so that another module's SSH.NET cannot clash with ours; the core
    /// talks to it only through these two types, which it owns.
    /// </summary>
    public interface IRouterConnector
    {
        /// <summary>
        /// Connects and logs in, accepting only a host key <paramref name="trust"/> accepts. Without
        /// -KeyFile or a password it offers ssh's default identities (<see cref="DefaultIdentities"/>)
        /// in ssh's order. When <paramref name="cancel"/> fires (Ctrl-C) it gives up at once with
        /// BypassNat.Stopped; the half-open connection is closed in the background.
        /// </summary>
        IRouterConnection Connect(SshSettings settings, HostKeyTrust trust, CancellationToken cancel);

        /// <summary>
        /// Loads the key file or the default identities without connecting, so a mistake there (the
        /// same for every router) is reported once, before any connection.
        /// </summary>
        void CheckLogin(SshSettings settings);
    }

    /// <summary>One open SSH connection: runs a script on <c>sh -s</c>, the script on standard input.</summary>
    public interface IRouterConnection : IDisposable
    {
        CommandResult Run(string script);

        /// <summary>How the login went, for the verbose stream: "key /root/.ssh/id_ecdsa (default identity, as ssh would use)", "password".</summary>
        string Login { get; }

        /// <summary>False once the connection dropped (the router rebooted, sshd restarted, the network went away).</summary>
        bool IsConnected { get; }

        /// <summary>
        /// Abandons the command under way, from any thread (Ctrl-C calls it from the cmdlet's
        /// StopProcessing): <see cref="Run"/> throws BypassNat.Stopped at once, and the connection is
        /// closed in the background. Returns at once; never throws.
        /// </summary>
        void Abort();
    }
}
