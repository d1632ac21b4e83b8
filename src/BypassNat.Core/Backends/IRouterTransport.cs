namespace BypassNat.Backends
{
    /// <summary>
    /// How a backend reaches its router, as far as the orchestration needs to know: a name for its
    /// errors and how many round trips it took. An SSH shell (<see cref="Ssh.RouterSession"/>) is one;
    /// a web API client is another. Everything else about the transport is the backend's own.
    /// </summary>
    public interface IRouterTransport
    {
        /// <summary>The router as the user named it (-ComputerName).</summary>
        string ComputerName { get; }

        /// <summary>The router as errors name it ("192.0.2.2:22").</summary>
        string Endpoint { get; }

        /// <summary>How many commands or requests went to the router so far.</summary>
        int RoundTrips { get; }
    }
}
