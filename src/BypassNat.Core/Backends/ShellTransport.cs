using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>
    /// A router's shell over SSH as a backend's transport. An adapter rather than RouterSession
    /// implementing <see cref="IRouterTransport"/>, so that Ssh/ stays below the seam it serves.
    /// </summary>
    public sealed class ShellTransport : IRouterTransport
    {
        public ShellTransport(RouterSession session) => Session = session;

        public RouterSession Session { get; }

        public string ComputerName => Session.Settings.ComputerName;

        public string Endpoint => Session.Settings.Endpoint;

        public int RoundTrips => Session.CommandsRun;
    }
}
