using System;

namespace BypassNat.Ssh
{
    /// <summary>
    /// Opens SSH connections. The implementation (SSH.NET) lives in BypassNat.SshNet, which the module
    /// loads in a context of its own so that another module's SSH.NET cannot clash with ours; the core
    /// talks to it only through these two types, which it owns.
    /// </summary>
    public interface IRouterConnector
    {
        /// <summary>Connects and logs in, accepting only a host key <paramref name="trust"/> accepts.</summary>
        IRouterConnection Connect(SshSettings settings, HostKeyTrust trust);
    }

    /// <summary>One open SSH connection: runs a script on <c>sh -s</c>, the script on standard input.</summary>
    public interface IRouterConnection : IDisposable
    {
        CommandResult Run(string script);
    }
}
